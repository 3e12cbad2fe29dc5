"""A call's state between webhooks: a declared type, stored as compact JSON under the CallSid."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import orjson


@dataclass(slots=True)
class Estado:
    """Everything the line remembers about one call (slots: a mistyped field fails loudly)."""

    call_sid: str
    desde: str | None = None          # the caller's number (From)
    nodo: str | None = None           # the node whose answer is awaited
    intentos: int = 0                 # failed tries at the current node
    fallos_identidad: int = 0         # failed identifications in the whole call
    params: dict = field(default_factory=dict)  # the current node's prompt params (to repeat it)
    ruta: list[str] = field(default_factory=list)  # nodes entered, in order
    # Every answer at a Gather: [node, "teclas" | "voz" | "silencio", failed] (the report).
    entradas: list[list] = field(default_factory=list)
    candidatos: list[int] = field(default_factory=list)  # people the CURP/RFC matched
    documento_por: str | None = None  # "teclado" | "voz"
    derechohabiente_id: int | None = None
    citas: list[int] = field(default_factory=list)  # the citas listed, in key order
    cita_id: int | None = None
    cita_fecha: str | None = None     # its date (ISO) as the read-back said it: the summary's
    solicitante_tipo: str | None = None  # "titular" | "tercero"
    solicitante_nombre: str | None = None
    motivo: dict | None = None        # {"codigo": int, "texto": str}
    folio: str | None = None
    sms_termina_en: str | None = None  # last 2 digits of the phone the folio SMS goes to
    razon: str | None = None          # why the call went to the agents
    nodo_transferencia: str | None = None  # the node where it went to the agents
    marcaciones: int = 0              # dials to the agents so far (one retry at most)
    transferencia_id: int | None = None  # the latest transfer's record (whisper, callback)
    transferencia_pendiente: dict | None = None  # a transfer the database couldn't take yet
    desenlace: str | None = None      # how the line's part ended ("cancelada", "transferida"...)
    terminada: bool = False           # the line's part is over: repeats get the cached answer
    # The last answer, for a repeated webhook: Render.responder's compact form of it (or its
    # TwiML: a dial's, or a state saved before answers were kept compact).
    previo: list | str | None = None

    def cambiar(self, cambios: dict) -> None:
        """Set these fields (from an action's result or a flow option); an unknown one raises."""
        for nombre, valor in cambios.items():
            if nombre not in CAMPOS:
                raise AttributeError(f"el estado de la llamada no tiene el campo {nombre!r}")
            setattr(self, nombre, valor)

    def copia(self) -> Estado:
        """An independent copy, for a step that must leave its input as it was: the containers
        are copied (a failed answer's entry is changed in place); what they hold is not, as the
        dialog only ever replaces params' values, never changes them in place."""
        return replace(
            self, params=dict(self.params), ruta=list(self.ruta),
            entradas=[list(e) for e in self.entradas], candidatos=list(self.candidatos),
            citas=list(self.citas), motivo=_dict_o_none(self.motivo),
            transferencia_pendiente=_dict_o_none(self.transferencia_pendiente))

    def a_json(self) -> bytes:
        """Compact JSON (UTF-8): only the fields that differ from a fresh call's."""
        return orjson.dumps({nombre: valor for nombre, vacio in _VACIOS
                             if (valor := getattr(self, nombre)) != vacio or nombre == "call_sid"})

    @classmethod
    def de_json(cls, texto: bytes | str) -> Estado:
        """The state stored by `a_json`; a field this version doesn't know raises ValueError."""
        datos = orjson.loads(texto)
        desconocidos = datos.keys() - CAMPOS
        if desconocidos:
            raise ValueError(f"estado con campos desconocidos: {sorted(desconocidos)}")
        return cls(**datos)


def _dict_o_none(valor: dict | None) -> dict | None:
    return None if valor is None else dict(valor)


CAMPOS = frozenset(f.name for f in fields(Estado))
# Each field and its value in a fresh call, in declaration order.
_VACIOS = tuple((f.name, getattr(Estado(call_sid=""), f.name)) for f in fields(Estado))
