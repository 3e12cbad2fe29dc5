"""Understanding what callers say (basic version; see issue 3)."""
from __future__ import annotations

import re
import unicodedata

from ivr.domain import documento as doc

_NUMEROS = {"cero": "0", "uno": "1", "una": "1", "dos": "2", "tres": "3", "cuatro": "4",
            "cinco": "5", "seis": "6", "siete": "7", "ocho": "8", "nueve": "9"}


def _plegar(texto: str) -> str:
    t = unicodedata.normalize("NFKD", texto.lower())
    t = "".join(c for c in t if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9ñ ]+", " ", t).strip()


def _palabras(texto: str) -> list[str]:
    return _plegar(texto).split()


def entender_documento(texto: str) -> str | None:
    limpio = re.sub(r"[^A-Za-z0-9]", "", texto).upper()
    if len(limpio) == 18 and doc.validar_curp(limpio):
        return limpio
    if len(limpio) == 13 and doc.validar_rfc(limpio):
        return limpio
    return None


def coincide_apellido(dicho: str, registrado: str) -> bool:
    return _plegar(dicho).replace(" ", "") == _plegar(registrado).replace(" ", "")


def elegir_por_apellido(dicho: str, candidatos: list[str]) -> list[int]:
    return [i for i, c in enumerate(candidatos) if coincide_apellido(dicho, c)]


def entender_opcion(texto: str, opciones: dict[str, list[str]]) -> str | None:
    dicho = " " + " ".join(_NUMEROS.get(p, p) for p in _palabras(texto)) + " "
    mejor: dict[str, int] = {}
    for tecla, frases in opciones.items():
        for frase in [*frases, *([tecla] if tecla.isdigit() else [])]:
            f = " ".join(_palabras(frase))
            if f and f" {f} " in dicho:
                mejor[tecla] = max(mejor.get(tecla, 0), len(f))
    if not mejor:
        return None
    top = max(mejor.values())
    ganadoras = [t for t, n in mejor.items() if n == top]
    return ganadoras[0] if len(ganadoras) == 1 else None


def entender_si_no(texto: str) -> bool | None:
    p = _palabras(texto)
    if not p:
        return None
    if p[0] == "no" or "mejor no" in " ".join(p):
        return False
    if p[0] in {"si", "claro", "correcto", "confirmo", "adelante"}:
        return True
    return None


def entender_motivo(texto: str, motivos: list[dict]) -> tuple[int, str]:
    frases = {str(m["codigo"]): list(m.get("palabras") or ()) for m in motivos}
    codigo = entender_opcion(texto, frases)
    for m in motivos:
        if codigo == str(m["codigo"]):
            return m["codigo"], m["texto"]
    otro = max(motivos, key=lambda m: m["codigo"])
    return otro["codigo"], texto.strip() or otro["texto"]


def entender_nombre(texto: str) -> str | None:
    limpio = re.sub(r"^\s*(se llama|su nombre es|es)\s+", "", texto.strip(), flags=re.I)
    return limpio.strip().title() or None if re.search(r"[^\W\d_]", limpio) else None
