"""Load and validate the call flow (flows/*.yaml).

Menus, prompts, retries and transitions are data; this module turns them into objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ivr.estado import CAMPOS as CAMPOS_ESTADO

TIPOS_NODO = {"menu", "captura", "final", "transferencia"}
# Webhook paths that are not nodes: a node with one of these ids would never be reached.
RESERVADOS = {"incoming", "status", "fallback", "susurro", "espera", "agente_estado"}
TECLAS_MENU = set("0123456789*#")
DESTINO_TEXTO = re.compile(r"^(?:(agente|fin):)?([a-z0-9_]+)$")
# Twilio <Gather> attributes an operator may set (snake_case as the twilio library names them).
ATRIBUTOS_GATHER = {
    "input", "language", "timeout", "speech_timeout", "action_on_empty_result",
    "profanity_filter", "num_digits", "finish_on_key", "hints", "speech_model", "enhanced",
    "barge_in", "max_speech_time",
}


class FlujoInvalido(ValueError):
    """A flow file that cannot run: every problem found is listed in the message."""

    def __init__(self, problemas: list[str]):
        super().__init__("flujo inválido:\n  - " + "\n  - ".join(problemas))
        self.problemas = problemas


@dataclass(frozen=True)
class Prompt:
    """One prompt of a node: an id, maybe conditional on a param, maybe repeated per item."""

    id: str
    si: str | None = None
    por_cada: str | None = None


@dataclass(frozen=True)
class Destino:
    """Where an answer leads: a node, an agent, or the end of the call, with prompts before."""

    ir: str | None = None
    agente: str | None = None
    fin: str | None = None
    decir: tuple[str, ...] = ()
    fallo_identidad: bool = False
    no_entendido: bool = False
    repetir: bool = False
    colgar: bool = False              # hang up after `decir`, with no closing prompt
    desenlace: str | None = None      # the call's outcome; by default the `fin` prompt's id


@dataclass(frozen=True)
class Opcion:
    """A menu key: its destination or action, values to remember, and the words that say it."""

    tecla: str
    destino: Destino
    accion: str | None = None
    mensaje: str | None = None
    guardar: dict = field(default_factory=dict)
    palabras: tuple[str, ...] = ()


@dataclass(frozen=True)
class Nodo:
    """A node of the call: what is said, how input is gathered, and what follows."""

    id: str
    tipo: str
    prompt: tuple[Prompt, ...]
    repetir: tuple[Prompt, ...]
    ayuda: tuple[Prompt, ...]
    gather: dict
    opciones: dict[str, Opcion]
    accion: str | None
    al_entrar: str | None
    resultados: dict[str, Destino]
    si: str | None = None
    no: str | None = None
    # Said on the first retry, after what went wrong: the question, not what was already read.
    reintento: tuple[Prompt, ...] = ()
    # Words that, said at this menu, go straight to a node further on ("cancelar mi cita").
    atajos: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # A final node: said when the caller has heard it (no answer, any key but * and 0).
    despedida: str | None = None
    agotado: Destino | None = None    # where exhausted retries lead (default: an agent)


@dataclass(frozen=True)
class Flujo:
    """A whole call flow with its global settings."""

    idioma: str
    voz: str
    inicio: str
    max_intentos: int
    max_fallos_identidad: int
    horas_anticipacion: int
    horario_agentes: str
    globales: dict[str, tuple[str, ...]]
    motivos: tuple[dict, ...]
    nodos: dict[str, Nodo]
    gather: dict = field(default_factory=dict)  # the defaults every <Gather> starts from
    agente: str = "agente"            # the transfer node every "agente:<razón>" enters
    max_marcaciones: int = 2          # dials to the agents in one call (the first, one retry)

    def destinos(self, nodo: Nodo) -> Iterable[Destino]:
        """Every destination a node can lead to."""
        yield from (o.destino for o in nodo.opciones.values())
        yield from nodo.resultados.values()
        yield from (Destino(ir=nid) for nid in nodo.atajos)
        if nodo.agotado:
            yield nodo.agotado

    def tras_agente(self) -> set[str]:
        """The nodes of the agents' part of the flow: the transfer node and what follows it."""
        return _alcanzables(self, [self.agente])

    def prompts_usados(self) -> set[str]:
        """Every prompt id the flow refers to."""
        ids: set[str] = set()
        for nodo in self.nodos.values():
            ids.update(p.id for p in (*nodo.prompt, *nodo.repetir, *nodo.ayuda, *nodo.reintento))
            if nodo.despedida:
                ids.add(nodo.despedida)
            for opcion in nodo.opciones.values():
                if opcion.mensaje:
                    ids.add(opcion.mensaje)
            for destino in self.destinos(nodo):
                ids.update(destino.decir)
                if destino.fin:
                    ids.add(destino.fin)
        return ids


def _prompts(valor, donde: str, problemas: list[str]) -> tuple[Prompt, ...]:
    if valor is None:
        return ()
    if isinstance(valor, (str, dict)):
        valor = [valor]
    salida = []
    for item in valor:
        if isinstance(item, str):
            salida.append(Prompt(item))
        elif isinstance(item, dict) and isinstance(item.get("prompt"), str):
            extra = set(item) - {"prompt", "si", "por_cada"}
            if extra:
                problemas.append(f"{donde}: claves desconocidas en prompt: {sorted(extra)}")
            salida.append(Prompt(item["prompt"], item.get("si"), item.get("por_cada")))
        else:
            problemas.append(f"{donde}: prompt mal formado: {item!r}")
    return tuple(salida)


def _destino(valor, donde: str, problemas: list[str]) -> Destino:
    if isinstance(valor, str):
        valor = {"ir": valor}
        m = DESTINO_TEXTO.match(valor["ir"])
        if m and m.group(1):
            valor = {m.group(1): m.group(2)}
    if not isinstance(valor, dict):
        problemas.append(f"{donde}: destino mal formado: {valor!r}")
        return Destino()
    conocidas = {"ir", "agente", "fin", "decir", "fallo_identidad", "no_entendido", "repetir",
                 "colgar", "desenlace"}
    extra = set(valor) - conocidas
    if extra:
        problemas.append(f"{donde}: claves desconocidas en destino: {sorted(extra)}")
    decir = valor.get("decir") or ()
    if isinstance(decir, str):
        decir = (decir,)
    destino = Destino(
        ir=valor.get("ir"),
        agente=valor.get("agente"),
        fin=valor.get("fin"),
        decir=tuple(decir),
        fallo_identidad=bool(valor.get("fallo_identidad")),
        no_entendido=bool(valor.get("no_entendido")),
        repetir=bool(valor.get("repetir")),
        colgar=bool(valor.get("colgar")),
        desenlace=valor.get("desenlace"),
    )
    terminales = [x for x in (destino.ir, destino.agente, destino.fin, destino.colgar) if x]
    if len(terminales) > 1:
        problemas.append(f"{donde}: un destino lleva a un solo lugar (ir, agente, fin o colgar)")
    if destino.colgar and not destino.desenlace:
        problemas.append(f"{donde}: colgar necesita un desenlace")
    if not terminales and not (destino.no_entendido or destino.repetir):
        problemas.append(f"{donde}: el destino no lleva a ningún lado")
    return destino


CLAVES_NODO = {"tipo", "prompt", "repetir", "ayuda", "gather", "opciones", "accion", "al_entrar",
               "resultados", "si", "no", "reintento", "atajos", "despedida", "agotado"}


def _nodo(nid: str, datos: dict, gather_base: dict, problemas: list[str]) -> Nodo:
    donde = f"nodo {nid}"
    for clave in datos:
        if not isinstance(clave, str):
            # YAML 1.1 reads a bare `no:` / `si:`-like key as a boolean: quote it ("no": ...).
            problemas.append(f"{donde}: la clave {clave!r} no es texto; escríbala entre comillas")
        elif clave not in CLAVES_NODO:
            problemas.append(f"{donde}: clave desconocida: {clave}")
    tipo = datos.get("tipo")
    if tipo not in TIPOS_NODO:
        problemas.append(f"{donde}: tipo debe ser uno de {sorted(TIPOS_NODO)}, no {tipo!r}")
    gather = {**gather_base, **(datos.get("gather") or {})}
    for clave in set(gather) - ATRIBUTOS_GATHER:
        problemas.append(f"{donde}: atributo de Gather desconocido: {clave}")
    opciones: dict[str, Opcion] = {}
    for tecla, op in (datos.get("opciones") or {}).items():
        tecla = str(tecla)
        d = f"{donde}, opción {tecla}"
        if tecla not in TECLAS_MENU or len(tecla) != 1:
            problemas.append(f"{d}: una opción es una sola tecla")
        if not isinstance(op, dict):
            problemas.append(f"{d}: opción mal formada")
            continue
        destino_datos = {k: op[k] for k in ("ir", "agente", "fin", "decir", "repetir", "colgar",
                                          "desenlace") if k in op}
        accion = op.get("accion")
        mensaje = op.get("mensaje")
        if mensaje or accion:
            destino = Destino(**{k: v for k, v in destino_datos.items() if k != "decir"})
        else:
            destino = _destino(destino_datos, d, problemas)
        opciones[tecla] = Opcion(
            tecla=tecla,
            destino=destino,
            accion=accion,
            mensaje=mensaje,
            guardar=dict(op.get("guardar") or {}),
            palabras=tuple(op.get("palabras") or ()),
        )
    resultados = {
        str(k): _destino(v, f"{donde}, resultado {k}", problemas)
        for k, v in (datos.get("resultados") or {}).items()
    }
    prompt = _prompts(datos.get("prompt"), donde, problemas)
    if not prompt:
        problemas.append(f"{donde}: falta prompt")
    ayuda = _prompts(datos.get("ayuda"), donde, problemas)
    if not ayuda and tipo not in ("final", "transferencia"):  # they ask the caller nothing
        problemas.append(f"{donde}: falta ayuda (la instrucción completa con ejemplo)")
    if tipo == "final" and not datos.get("despedida"):
        problemas.append(f"{donde}: un nodo final necesita despedida")
    atajos = datos.get("atajos") or {}
    if not isinstance(atajos, dict):
        problemas.append(f"{donde}: atajos mal formados")
        atajos = {}
    if tipo in ("captura", "transferencia") and not datos.get("accion"):
        problemas.append(f"{donde}: un nodo de {tipo} necesita una accion")
    if nid in RESERVADOS:
        problemas.append(f"{donde}: {nid!r} es el nombre de un webhook; elija otro")
    if tipo == "menu" and not opciones:
        problemas.append(f"{donde}: un menú necesita opciones")
    repetir = _prompts(datos.get("repetir"), donde, problemas) or prompt
    return Nodo(
        id=nid,
        tipo=tipo,
        prompt=prompt,
        repetir=repetir,
        reintento=_prompts(datos.get("reintento"), donde, problemas) or repetir,
        atajos={str(k): tuple(v or ()) for k, v in atajos.items()},
        despedida=datos.get("despedida"),
        ayuda=ayuda,
        gather=gather,
        opciones=opciones,
        accion=datos.get("accion"),
        al_entrar=datos.get("al_entrar"),
        resultados=resultados,
        si=str(datos["si"]) if "si" in datos else None,
        no=str(datos["no"]) if "no" in datos else None,
        agotado=(_destino(datos["agotado"], f"{donde}, agotado", problemas)
                 if "agotado" in datos else None),
    )


def construir(datos: dict) -> tuple[Flujo, list[str]]:
    """Build a flow from parsed YAML; returns it with the list of structural problems."""
    problemas: list[str] = []
    nodos_datos = datos.get("nodos") or {}
    gather_base = dict(datos.get("gather") or {})
    nodos = {nid: _nodo(nid, n or {}, gather_base, problemas) for nid, n in nodos_datos.items()}
    flujo = Flujo(
        idioma=datos.get("idioma", "es-MX"),
        voz=datos.get("voz", "Polly.Mia"),
        inicio=datos.get("inicio", ""),
        max_intentos=int(datos.get("max_intentos", 3)),
        max_fallos_identidad=int(datos.get("max_fallos_identidad", 3)),
        horas_anticipacion=int(datos.get("horas_anticipacion", 36)),
        horario_agentes=str(datos.get("horario_agentes", "24/7")),
        globales={str(k): tuple(v) for k, v in (datos.get("globales") or {}).items()},
        motivos=tuple(datos.get("motivos") or ()),
        nodos=nodos,
        gather=gather_base,
        agente=str(datos.get("agente", "agente")),
        max_marcaciones=int(datos.get("max_marcaciones", 2)),
    )
    return flujo, problemas


def validar(flujo: Flujo, prompts: set[str], acciones: Mapping[str, Set[str]]) -> list[str]:
    """Problems that stop the flow from running: missing targets, prompts, actions, dead nodes."""
    problemas = []
    if flujo.inicio not in flujo.nodos:
        problemas.append(f"el nodo de inicio {flujo.inicio!r} no existe")
    if getattr(flujo.nodos.get(flujo.agente), "tipo", None) != "transferencia":
        problemas.append(f"agente: {flujo.agente!r} debe ser un nodo de tipo transferencia")
    codigos = [m.get("codigo") for m in flujo.motivos]
    if not flujo.motivos or len(set(codigos)) != len(codigos):
        problemas.append("motivos: hace falta al menos uno, cada uno con un código distinto")
    for m in flujo.motivos:
        if not isinstance(m.get("codigo"), int) or not m.get("texto"):
            problemas.append(f"motivo mal formado: {m!r}")
    for nodo in flujo.nodos.values():
        for destino in flujo.destinos(nodo):
            if destino.ir and destino.ir not in flujo.nodos:
                problemas.append(f"nodo {nodo.id}: destino {destino.ir!r} no existe")
        for nombre in (nodo.accion, nodo.al_entrar,
                       *(o.accion for o in nodo.opciones.values())):
            if not nombre:
                continue
            if nombre not in acciones:
                problemas.append(f"nodo {nodo.id}: acción {nombre!r} no está registrada")
                continue
            for salida in sorted(set(acciones[nombre]) - set(nodo.resultados)):
                problemas.append(f"nodo {nodo.id}: la acción {nombre} puede dar {salida!r} "
                                 "y no hay resultado para eso")
        for op in nodo.opciones.values():
            for campo in sorted(set(op.guardar) - CAMPOS_ESTADO):
                problemas.append(f"nodo {nodo.id}: la opción {op.tecla} guarda {campo!r}, "
                                 "que no es un campo del estado de la llamada")
            if op.accion and not nodo.resultados:
                problemas.append(
                    f"nodo {nodo.id}: la opción {op.tecla} tiene acción sin resultados")
        for tecla in (nodo.si, nodo.no):
            if tecla is not None and tecla not in nodo.opciones:
                problemas.append(f"nodo {nodo.id}: si/no apunta a la opción {tecla} que no existe")
    for pid in sorted(flujo.prompts_usados() - prompts):
        problemas.append(f"prompt {pid!r} no está en el catálogo")
    alcanzables = _alcanzables(flujo)
    for nid in sorted(set(flujo.nodos) - alcanzables):
        problemas.append(f"nodo {nid} no se alcanza desde {flujo.inicio}")
    return problemas


def _alcanzables(flujo: Flujo, desde: list[str] | None = None) -> set[str]:
    vistos: set[str] = set()
    # By default from the start, and from the agent node: "0" reaches it from anywhere.
    pendientes = list(desde or [flujo.inicio, flujo.agente])
    while pendientes:
        nid = pendientes.pop()
        if nid in vistos or nid not in flujo.nodos:
            continue
        vistos.add(nid)
        pendientes.extend(d.ir for d in flujo.destinos(flujo.nodos[nid]) if d.ir)
    return vistos


def leer(ruta: Path) -> tuple[Flujo, list[str]]:
    """Read a flow file; returns the flow with its structural problems (not yet validated)."""
    with open(ruta, encoding="utf-8") as f:
        datos = yaml.safe_load(f) or {}
    return construir(datos)


def cargar(ruta: Path, prompts: set[str], acciones: Mapping[str, Set[str]]) -> Flujo:
    """Read and validate a flow file; raises FlujoInvalido listing every problem."""
    flujo, problemas = leer(ruta)
    problemas += validar(flujo, prompts, acciones)
    if problemas:
        raise FlujoInvalido([f"{ruta.name}: {p}" for p in problemas])
    return flujo
