"""The dialog step: (flow, call state, caller input) -> (new state, what to say and do)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ivr.domain import habla
from ivr.estado import Estado
from ivr.flows import Destino, Flujo, Nodo, Opcion, Prompt


@dataclass(frozen=True)
class Entrada:
    """What the caller did at a Gather: keys, speech, or nothing."""

    digitos: str | None = None
    habla: str | None = None
    confianza: float | None = None
    marcacion: str | None = None  # how a dial to the agents ended (DialCallStatus/QueueResult)

    @property
    def vacia(self) -> bool:
        """True when Twilio heard neither keys nor speech."""
        return not (self.digitos or (self.habla or "").strip())


@dataclass(frozen=True)
class Decir:
    """Say one catalog prompt with these params."""

    prompt: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Escuchar:
    """Wait for the caller's answer at this node (a <Gather> posting to /voice/<nodo>)."""

    nodo: str
    gather: dict


@dataclass(frozen=True)
class Marcar:
    """Dial the agents (or queue for them); how it ends is posted back to /voice/<nodo>."""

    nodo: str
    razon: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Colgar:
    """End the call after the prompts."""


@dataclass(frozen=True)
class Salida:
    """The answer to one webhook: prompts, then one terminal instruction."""

    decir: tuple[Decir, ...]
    fin: Escuchar | Marcar | Colgar


@dataclass(frozen=True)
class Resultado:
    """What a named action returns: an outcome for the flow, prompt params, state updates."""

    salida: str | None = None
    params: dict = field(default_factory=dict)
    estado: dict = field(default_factory=dict)


Accion = Callable[[Estado, Entrada | None, Flujo], Resultado]


def estado_inicial(call_sid: str, desde: str | None = None) -> Estado:
    """A fresh call state."""
    return Estado(call_sid=call_sid, desde=desde)


def iniciar(flujo: Flujo, estado: Estado, acciones: Mapping[str, Accion]) -> tuple[Estado, Salida]:
    """The answer to a new call: enter the first node."""
    estado = estado.copia()
    return estado, _entrar(flujo, estado, flujo.inicio, [], acciones)


def paso(
    flujo: Flujo, estado: Estado, entrada: Entrada, acciones: Mapping[str, Accion]
) -> tuple[Estado, Salida]:
    """Process the caller's answer at the current node."""
    estado = estado.copia()
    nodo = flujo.nodos[estado.nodo]
    if nodo.tipo == "final":
        return estado, _final(flujo, estado, nodo, entrada, acciones)
    if nodo.tipo == "transferencia":
        # How the dial ended is this node's input, like keys at a Gather.
        return estado, _aplicar(flujo, estado, nodo, acciones[nodo.accion](
            estado, entrada, flujo), acciones, "no_entendi")
    tipo = "teclas" if entrada.digitos else ("silencio" if entrada.vacia else "voz")
    estado.entradas.append([nodo.id, tipo, False])  # marked failed below if it was
    if entrada.vacia:
        return estado, _fallo(flujo, estado, nodo, "no_escuche", acciones)
    tecla = _tecla_global(flujo, entrada)
    if tecla == "0":
        return estado, transferir(flujo, estado, "pidio_agente", [], acciones)
    if tecla == "*":
        estado.intentos = 0  # a valid answer: the count of failed tries starts again
        return estado, _repetir(flujo, estado, nodo, [])
    # "No le entendí" is right after speech only; a key that is not an option is said so.
    que_paso = "opcion_no_existe" if entrada.digitos else "no_entendi"
    if nodo.tipo == "menu":
        opcion = _opcion(nodo, entrada)
        if opcion is None:
            return estado, _fallo(flujo, estado, nodo, que_paso, acciones)
        estado.cambiar(opcion.guardar)
        if opcion.mensaje:
            estado.intentos = 0
            return estado, _repetir(flujo, estado, nodo, [Decir(opcion.mensaje)])
        if opcion.accion:
            return estado, _aplicar(flujo, estado, nodo, acciones[opcion.accion](
                estado, entrada, flujo), acciones, que_paso)
        return estado, _ir(flujo, estado, nodo, opcion.destino, estado.params, [], acciones)
    return estado, _aplicar(flujo, estado, nodo, acciones[nodo.accion](estado, entrada, flujo),
                            acciones, que_paso)


def _final(flujo: Flujo, estado: Estado, nodo: Nodo, entrada: Entrada,
           acciones: Mapping[str, Accion]) -> Salida:
    """After the last words (the folio): * hears them again, 0 an agent, anything else ends."""
    tecla = None if entrada.vacia else _tecla_global(flujo, entrada)
    if tecla == "*":
        return _repetir(flujo, estado, nodo, [])
    if tecla == "0":
        return transferir(flujo, estado, "pidio_agente", [], acciones)
    return Salida((Decir(nodo.despedida, estado.params),), Colgar())


def _tecla_global(flujo: Flujo, entrada: Entrada) -> str | None:
    if entrada.digitos:
        return entrada.digitos if entrada.digitos in flujo.globales else None
    globales = {k: list(v) for k, v in flujo.globales.items()}
    return habla.entender_opcion(entrada.habla or "", globales)


def _opcion(nodo: Nodo, entrada: Entrada):
    if entrada.digitos:
        return nodo.opciones.get(entrada.digitos)
    texto = entrada.habla or ""
    palabras = {t: list(o.palabras) for t, o in nodo.opciones.items()}
    palabras.update((nid, list(p)) for nid, p in nodo.atajos.items())
    tecla = habla.entender_opcion(texto, palabras)
    if tecla in nodo.atajos:
        return Opcion(tecla="", destino=Destino(ir=tecla))
    if tecla is None and (nodo.si or nodo.no):
        respuesta = habla.entender_si_no(texto)
        tecla = {True: nodo.si, False: nodo.no}.get(respuesta)
    return nodo.opciones.get(tecla) if tecla else None


def _aplicar(flujo: Flujo, estado: Estado, nodo: Nodo, resultado: Resultado,
             acciones: Mapping[str, Accion], que_paso: str) -> Salida:
    estado.cambiar(resultado.estado)
    destino = nodo.resultados[resultado.salida]
    params = {**estado.params, **resultado.params}
    return _ir(flujo, estado, nodo, destino, params, [], acciones, que_paso)


def _ir(flujo: Flujo, estado: Estado, nodo: Nodo, destino: Destino, params: dict,
        previos: list[Decir], acciones: Mapping[str, Accion],
        que_paso: str = "no_entendi") -> Salida:
    decir = previos + [Decir(p, params) for p in destino.decir]
    if destino.fallo_identidad:
        _entrada_fallida(estado)
        estado.fallos_identidad += 1
        if estado.fallos_identidad >= flujo.max_fallos_identidad:
            return transferir(flujo, estado, "identificacion_fallida", decir, acciones)
    if destino.no_entendido:
        # The destination's own words ("Marcó 17 teclas…") say best what went wrong.
        return _fallo(flujo, estado, nodo, que_paso, acciones, decir)
    if destino.repetir:
        return _repetir(flujo, estado, nodo, decir)
    if destino.agente:
        return transferir(flujo, estado, destino.agente, decir, acciones)
    if destino.fin or destino.colgar:
        estado.desenlace = destino.desenlace or destino.fin
        if destino.fin:
            decir.append(Decir(destino.fin, params))
        return Salida(tuple(decir), Colgar())
    return _entrar(flujo, estado, destino.ir, decir, acciones)


def _entrar(flujo: Flujo, estado: Estado, nid: str, previos: list[Decir],
            acciones: Mapping[str, Accion]) -> Salida:
    nodo = flujo.nodos[nid]
    estado.nodo = nid
    estado.intentos = 0
    if nodo.tipo == "final":
        estado.desenlace = nid  # the line's part is done ("cancelada"), whatever follows
    estado.ruta.append(nid)
    params: dict = {}
    if nodo.al_entrar:
        resultado = acciones[nodo.al_entrar](estado, None, flujo)
        estado.cambiar(resultado.estado)
        if resultado.salida:
            return _ir(flujo, estado, nodo, nodo.resultados[resultado.salida],
                       resultado.params, previos, acciones)
        params = resultado.params
    estado.params = params
    decir = tuple(previos + _expandir(nodo.prompt, params))
    if nodo.tipo == "transferencia":
        estado.marcaciones += 1
        return Salida(decir, Marcar(nid, estado.razon or "", params))
    return Salida(decir, Escuchar(nid, nodo.gather))


def _repetir(flujo: Flujo, estado: Estado, nodo: Nodo, previos: list[Decir]) -> Salida:
    decir = previos + _expandir(nodo.repetir, estado.params)
    return Salida(tuple(decir), Escuchar(nodo.id, nodo.gather))


def _entrada_fallida(estado: Estado) -> None:
    """The answer just given failed (not heard, not understood, identity not found)."""
    if estado.entradas:
        estado.entradas[-1][2] = True


def _fallo(flujo: Flujo, estado: Estado, nodo: Nodo, que_paso: str,
          acciones: Mapping[str, Accion], explicacion: list[Decir] | None = None) -> Salida:
    _entrada_fallida(estado)
    estado.intentos += 1
    if estado.intentos >= flujo.max_intentos:
        if nodo.agotado:  # e.g. the offers after a failed dial: no agent to send them to
            return _ir(flujo, estado, nodo, nodo.agotado, estado.params, [], acciones)
        return transferir(flujo, estado, "reintentos_agotados", [], acciones)
    decir = list(explicacion or [])
    if estado.intentos == 1:
        decir = (decir or [Decir(que_paso)]) + _expandir(nodo.reintento, estado.params)
    else:
        decir += _expandir(nodo.ayuda, estado.params)
    return Salida(tuple(decir), Escuchar(nodo.id, nodo.gather))


def transferir(flujo: Flujo, estado: Estado, razon: str, decir: list[Decir],
               acciones: Mapping[str, Accion]) -> Salida:
    """Go to the agents for this reason: enter the flow's transfer node from the current one."""
    if not estado.razon:  # "0" after a failed dial keeps why and where the call first left
        estado.razon = razon
        estado.nodo_transferencia = estado.nodo
    # Until an agent answers, the outcome is that none did (the caller may hang up first).
    estado.desenlace = "sin_agente"
    return _entrar(flujo, estado, flujo.agente, decir, acciones)


def _expandir(prompts: tuple[Prompt, ...], params: dict) -> list[Decir]:
    salida = []
    for p in prompts:
        if p.si and not params.get(p.si):
            continue
        if p.por_cada:
            salida.extend(Decir(p.id, {**params, **item}) for item in params.get(p.por_cada, []))
        else:
            salida.append(Decir(p.id, params))
    return salida
