"""Spoken Mexican Spanish as a speech recogniser writes it: IDs spelled aloud, surnames, answers.

Every function here reads the text of Twilio's `SpeechResult` (es-MX). The CURP/RFC parser is
deliberately literal: it reads what was said once, left to right, and never tries alternative
readings to find one that validates. The check digit cannot catch a wrong day-tens digit or an
H for an M, so a "repaired" CURP can be somebody else's; a failed parse is re-asked instead.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence

from ivr.domain.documento import rfc_con_digito_correcto, validar_curp, validar_rfc

# ---------------------------------------------------------------------------------------------
# Text normalisation
# ---------------------------------------------------------------------------------------------

_NO_PALABRA = re.compile(r"[^0-9a-zñ]+")


def _sin_acentos(texto: str) -> str:
    """Drop accents and diaeresis but keep ñ, which is a letter of its own in Spanish."""
    salida = []
    for caracter in unicodedata.normalize("NFC", texto):
        if caracter in "ñÑ":
            salida.append(caracter)
            continue
        descompuesto = unicodedata.normalize("NFD", caracter)
        salida.append("".join(c for c in descompuesto if unicodedata.category(c) != "Mn"))
    return "".join(salida)


def _palabras(texto: str) -> list[str]:
    """Lower-case, accent-free words and numbers of *texto*; punctuation separates."""
    return [p for p in _NO_PALABRA.split(_sin_acentos(texto).lower()) if p]


@functools.lru_cache(maxsize=4096)
def _frase(texto: str) -> tuple[str, ...]:
    """The words of a phrase to look for (a flow's option words, the lists here): normalised
    once, not at every answer that is searched for it."""
    return tuple(_palabras(texto))


def _contiene(palabras: Sequence[str], frase: Sequence[str]) -> list[int]:
    """Start positions where *frase* occurs in *palabras* as whole words."""
    n = len(frase)
    if not n or frase[0] not in palabras:  # most phrases looked for are not there at all
        return []
    frase = list(frase)
    return [i for i in range(len(palabras) - n + 1) if list(palabras[i:i + n]) == frase]


# ---------------------------------------------------------------------------------------------
# Numbers said in words
# ---------------------------------------------------------------------------------------------

_UNIDADES = {
    "cero": 0, "un": 1, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
    "seis": 6, "siete": 7, "ocho": 8, "nueve": 9,
}
_ESPECIALES = {
    "diez": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14, "quince": 15,
    "dieciseis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19,
    "veinte": 20, "veintiun": 21, "veintiuno": 21, "veintiuna": 21, "veintidos": 22,
    "veintitres": 23, "veinticuatro": 24, "veinticinco": 25, "veintiseis": 26,
    "veintisiete": 27, "veintiocho": 28, "veintinueve": 29,
}
_DECENAS = {
    "treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70,
    "ochenta": 80, "noventa": 90,
}
_CENTENAS = {
    "cien": 100, "ciento": 100, "doscientos": 200, "trescientos": 300, "cuatrocientos": 400,
    "quinientos": 500, "seiscientos": 600, "setecientos": 700, "ochocientos": 800,
    "novecientos": 900,
}
_PALABRAS_NUMERO = (set(_UNIDADES) | set(_ESPECIALES) | set(_DECENAS) | set(_CENTENAS)
                    | {"mil"})


def _bajo_cien(ps: Sequence[str], i: int) -> tuple[int, int] | None:
    """A number below 100 at ps[i] ("ochenta y cinco", "veintitrés", "siete")."""
    if i >= len(ps):
        return None
    p = ps[i]
    if p in _ESPECIALES:
        valor, i = _ESPECIALES[p], i + 1
        # "veinte y tres", the old spelling, as well as "treinta y tres"
        if (valor in (10, 20) and i + 1 < len(ps) and ps[i] == "y"
                and ps[i + 1] in _UNIDADES and _UNIDADES[ps[i + 1]] > 0):
            return valor + _UNIDADES[ps[i + 1]], i + 2
        return valor, i
    if p in _DECENAS:
        valor, i = _DECENAS[p], i + 1
        if i + 1 < len(ps) and ps[i] == "y" and ps[i + 1] in _UNIDADES and _UNIDADES[ps[i + 1]]:
            return valor + _UNIDADES[ps[i + 1]], i + 2
        return valor, i
    if p in _UNIDADES and p != "cero":
        return _UNIDADES[p], i + 1
    return None


def _bajo_mil(ps: Sequence[str], i: int) -> tuple[int, int] | None:
    """A number below 1000 at ps[i] ("novecientos ochenta y cinco", "cien")."""
    if i < len(ps) and ps[i] in _CENTENAS:
        valor, i = _CENTENAS[ps[i]], i + 1
        if valor == 100 and ps[i - 1] == "cien":
            return valor, i
        resto = _bajo_cien(ps, i)
        return (valor + resto[0], resto[1]) if resto else (valor, i)
    return _bajo_cien(ps, i)


def _numero(ps: Sequence[str], i: int) -> tuple[str, int] | None:
    """The digits of one cardinal said at ps[i], and where it ends; None if none starts there.

    A cardinal is read as Spanish grammar builds it ("mil novecientos ochenta y cinco" is
    1985, four digits), never shortened to what a CURP would want at that place.
    """
    if i >= len(ps):
        return None
    if ps[i] == "cero":
        return "0", i + 1
    valor = 0
    parte = _bajo_mil(ps, i)
    if parte is not None:
        valor, i = parte
    if i < len(ps) and ps[i] == "mil":
        valor, i = (valor or 1) * 1000, i + 1
        resto = _bajo_mil(ps, i)
        if resto is not None:
            valor, i = valor + resto[0], resto[1]
    elif parte is None:
        return None
    return str(valor), i


def _numero_solo(palabras: Sequence[str]) -> int | None:
    """The value when *palabras* are exactly one number (digits or words), else None."""
    if len(palabras) == 1 and palabras[0].isdigit():
        return int(palabras[0])
    leido = _numero(palabras, 0)
    if leido is not None and leido[1] == len(palabras):
        return int(leido[0])
    return None


# ---------------------------------------------------------------------------------------------
# CURP and RFC spelled aloud
# ---------------------------------------------------------------------------------------------

_NOMBRES_LETRA = {
    "a": "A", "be": "B", "ce": "C", "se": "C", "de": "D", "e": "E", "efe": "F", "ge": "G",
    "hache": "H", "ache": "H", "i": "I", "jota": "J", "hota": "J", "ka": "K", "ca": "K",
    "ele": "L", "eme": "M", "ene": "N", "eñe": "Ñ", "enie": "Ñ", "enye": "Ñ", "o": "O",
    "pe": "P", "cu": "Q", "ku": "Q", "erre": "R", "ere": "R", "ese": "S", "te": "T", "u": "U",
    "ve": "V", "uve": "V", "equis": "X", "ekis": "X", "equiz": "X", "ekiz": "X", "ye": "Y",
    "igriega": "Y", "zeta": "Z", "seta": "Z", "ceta": "Z", "zeda": "Z", "dobleu": "W",
}
_LETRAS_SUELTAS = {c: c.upper() for c in "abcdefghijklmnopqrstuvwxzñ"}
# Letter names of two words. "be"/"ve" sound the same in Spanish, so the qualifier decides.
_GRANDE = {"grande", "larga", "alta"}
_CHICA = {"chica", "corta", "baja", "pequena", "chiquita", "chaparrita"}
_BV = {"be", "ve", "b", "v"}
_COMPUESTAS = {
    ("i", "griega"): "Y", ("y", "griega"): "Y", ("i", "latina"): "I",
    ("doble", "u"): "W", ("doble", "ve"): "W", ("doble", "v"): "W", ("doble", "uve"): "W",
    **{(b, q): "B" for b in _BV for q in _GRANDE},
    **{(b, q): "V" for b in _BV for q in _CHICA},
}
# Words people put around an ID that carry nothing (fillers, labels, separators said aloud).
# "y" is not among them: between letters the recogniser writes the letter I as "y".
_MULETILLAS = {
    "mi", "su", "curp", "rfc", "es", "este", "esta", "eh", "ehh", "mmm", "mm", "hmm", "ok",
    "okay", "oki", "bueno", "pues", "la", "el", "numero", "letra", "clave", "homoclave",
    "guion", "espacio", "punto", "coma", "son", "seria", "entonces", "ahi", "aqui", "ya",
    "gracias", "listo", "con", "que", "tiene", "dice", "si", "claro", "siguiente", "creo",
    "mire", "mira", "oiga", "fijese", "senorita", "senor", "señorita", "señor", "joven", "ah",
    "ahh", "em", "emm", "naci", "nacimiento",
}
_FRASES_MULETILLA = [
    p.split() for p in (
        "a ver", "eso es todo", "es todo", "nada mas", "por favor", "con gusto",
        "clave unica de registro de poblacion", "registro federal de contribuyentes",
        "fecha de nacimiento",
    )
]
# What callers say before the document starts (greetings, "déjeme ver", "ahí le va"). Only
# dropped before the first letter or number: several of these words are letter names too.
_PREAMBULO = {
    "hola", "buenas", "buenos", "dias", "tardes", "noches", "disculpe", "permitame", "dejeme",
    "deje", "ver", "tantito", "momento", "momentito", "ahorita", "le",
    "doy", "paso", "dicto", "va", "tengo", "sale", "orale", "andale", "como", "mio", "mia",
    "naci", "nacimiento", "mis", "datos", "voy", "dar", "aca", "fijate", "bien", "perfecto",
    "vale", "aja", "pero", "espereme", "seguro", "exacto", "correcto", "anote", "apunte",
    "ahora", "okey", "orita", "asi", "pase", "busco", "busque", "aver", "sea",
}
_FRASES_PREAMBULO = [
    p.split() for p in (
        "se la doy", "se lo doy", "se la digo", "se lo digo", "se la paso", "se la dicto",
        "se la deletreo", "ahi le va", "aqui le va", "ahi va", "ahi te va", "como no",
        "de acuerdo", "a sus ordenes", "a la orden", "un momento", "un momentito",
        "de una vez", "a ver", "se la voy a dar", "se la voy a decir", "le voy a dar",
        "se la leo", "la tengo a la mano", "a la mano", "de la credencial",
    )
]
# Spelled labels at the start: "mi erre efe ce es …", "ce u erre pe …".
_ETIQUETAS_DELETREADAS = [
    p.split() for p in ("erre efe ce", "ere efe ce", "erre efe se", "ere efe se", "r f c",
                        "ce u erre pe", "se u erre pe", "c u r p")
]
# A self-correction ("ese, no, perdón, eme"; "noventa y dos, digo, noventa y uno"): what
# follows replaces some of what came before. How much is not said, so every cut is a reading.
_CORRECCION = "<correccion>"
_FRASES_CORRECCION = [
    p.split() for p in (
        "no", "perdon", "perdone", "digo", "corrijo", "me equivoque", "equivoque",
        "me equivoco", "o sea", "mas bien", "mejor dicho", "mejor", "quise decir",
        "quiero decir", "espere", "espera", "otra vez", "de nuevo", "no es cierto",
    )
]
_CORRECCIONES = {p for f in _FRASES_CORRECCION for p in f if p not in ("o", "de", "me", "es")}
_ACLARACION = {"de", "como"}
_MAYUSCULAS_MULETILLA = {"CURP", "RFC", "OK"}
_ARTICULOS = {"la", "el", "lo"}
_MESES = {
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11,
    "diciembre": 12,
}
# More readings than this and the transcript is too unclear to choose from: ask again.
_MAX_LECTURAS = 4096


def _token_es_deletreo(original: str) -> bool:
    """A block like "GOMA", "HDF", "85HDF" or "rrn" is spelled letter by letter."""
    letras = _sin_acentos(original)
    if not letras.isalnum() or len(letras) < 2:
        return False
    if any(c.isdigit() for c in letras):
        return any(c.isalpha() for c in letras)
    if letras.isupper() and letras not in _MAYUSCULAS_MULETILLA:
        return True
    # Lower-case without a vowel is not a Spanish word: "hdf", "rrn".
    return letras.islower() and not set(letras) & set("aeiouy") and letras not in _MULETILLAS


def _tokens_documento(texto: str) -> list[str]:
    """Words of *texto* with spelled blocks split into characters; digit runs stay whole."""
    salida: list[str] = []
    for original in re.split(r"[^0-9A-Za-zÑñÁÉÍÓÚÜáéíóúü]+", unicodedata.normalize("NFC", texto)):
        if not original:
            continue
        if original.isdigit():
            # Kept whole so that "23 de enero del 85" reads as a date.
            salida.append(original)
        elif _token_es_deletreo(original):
            salida.extend(_sin_acentos(original).lower())
        elif original == "Y":
            # A capital Y on its own is the letter, a lower-case y the conjunction (or an I).
            salida.append("ye")
        else:
            salida.append(_sin_acentos(original).lower())
    return salida


def _quitar_frases(palabras: list[str], frases: Iterable[Sequence[str]],
                   reemplazo: str | None = None) -> list[str]:
    """*palabras* without the *frases* (longest first), or with each one as *reemplazo*."""
    frases = sorted(frases, key=len, reverse=True)
    salida: list[str] = []
    i = 0
    while i < len(palabras):
        for frase in frases:
            if palabras[i:i + len(frase)] == list(frase):
                i += len(frase)
                if reemplazo is not None:
                    salida.append(reemplazo)
                break
        else:
            salida.append(palabras[i])
            i += 1
    return salida


def _sin_preambulo(ps: list[str]) -> list[str]:
    """*ps* from where the document starts: greetings, labels and false starts dropped."""
    i = 0
    while i < len(ps):
        frase = next((f for f in (*_FRASES_PREAMBULO, *_ETIQUETAS_DELETREADAS)
                      if ps[i:i + len(f)] == f), None)
        if frase is not None:
            i += len(frase)
        elif (ps[i] in _MULETILLAS or ps[i] in _PREAMBULO or ps[i] in _CORRECCIONES
              or ps[i] == "y") and tuple(ps[i:i + 2]) not in _COMPUESTAS:
            i += 1
        else:
            break
    return ps[i:]


def _letra(ps: Sequence[str], i: int) -> tuple[str, int] | None:
    """The letter named at ps[i] (one or two words), and where its name ends."""
    if i + 1 < len(ps) and (ps[i], ps[i + 1]) in _COMPUESTAS:
        return _COMPUESTAS[(ps[i], ps[i + 1])], i + 2
    p = ps[i]
    if p in _NOMBRES_LETRA:
        return _NOMBRES_LETRA[p], i + 1
    if p in _LETRAS_SUELTAS:
        return _LETRAS_SUELTAS[p], i + 1
    return None


def _es_nombre(ps: Sequence[str], i: int) -> bool:
    """Whether ps[i] is itself a letter, a number or a filler (so not a clarifying word)."""
    p = ps[i]
    return (p in _NOMBRES_LETRA or p in _LETRAS_SUELTAS or p in _PALABRAS_NUMERO
            or p.isdigit() or p in _MULETILLAS or p in _CORRECCIONES or p == "doble"
            or p == _CORRECCION)


def _aclarada(letra: str, base: str, palabra: str) -> str | None:
    """The letter clarified by *palabra* ("be de burro"), or None when they disagree."""
    inicial = palabra[0].upper()
    if base in _BV and inicial in "BV":
        # "be" and "ve" sound alike; the clarifying word is what tells them apart.
        return inicial
    return letra if inicial == letra else None


def _cifras(ps: Sequence[str], i: int) -> tuple[str, int] | None:
    """The digits of a number at ps[i], said in words or written as digits."""
    if i < len(ps) and ps[i].isdigit():
        return ps[i], i + 1
    return _numero(ps, i)


def _fecha(ps: Sequence[str], i: int) -> tuple[str, int] | None:
    """A birth date read as a date ("el 31 de diciembre del 99") as the CURP's AAMMDD."""
    j = i + 1 if i < len(ps) and ps[i] == "el" else i
    if j < len(ps) and ps[j] == "primero":
        dia, j = "1", j + 1
    else:
        leido = _cifras(ps, j)
        if leido is None:
            return None
        dia, j = leido
    if not (j + 1 < len(ps) and ps[j] == "de" and ps[j + 1] in _MESES and 1 <= int(dia) <= 31):
        return None
    mes, j = _MESES[ps[j + 1]], j + 2
    if j < len(ps) and ps[j] in ("de", "del"):
        j += 1
    if j < len(ps) and ps[j] in ("año", "ano"):
        j += 1
    leido = _cifras(ps, j)
    if leido is None:
        return None
    anio, j = leido
    if len(anio) == 4 and anio[:2] in ("19", "20"):
        anio = anio[2:]
    if len(anio) > 2:
        return None
    return f"{int(anio):02d}{mes:02d}{int(dia):02d}", j


def _unidad(ps: Sequence[str], i: int) -> tuple[tuple[str, ...], int] | None:
    """One letter or number said at ps[i]: its possible readings, literal first, and its end."""
    p = ps[i]
    compuesta = i + 1 < len(ps) and (p, ps[i + 1]) in _COMPUESTAS
    if p in ("doble", "triple") and i + 1 < len(ps) and not compuesta:
        veces = 2 if p == "doble" else 3
        numero = _cifras(ps, i + 1)
        if numero is not None and len(numero[0]) == 1:
            return (numero[0] * veces,), numero[1]
        # "doble be" could be W or BB: no reading is sure enough.
        letra = _unidad(ps, i + 1) if ps[i + 1] not in _BV else None
        if letra is not None and _letra(ps, i + 1) is not None:
            return tuple(a * veces for a in letra[0]), letra[1]
        return None
    numero = _cifras(ps, i)
    if numero is not None:
        cifras, j = numero
        if len(cifras) == 4 and cifras[:2] in ("19", "20"):
            # "mil novecientos ochenta y cinco": the CURP holds the last two digits.
            return (cifras, cifras[2:]), j
        return (cifras,), j
    letra = _letra(ps, i)
    if letra is None:
        return None
    caracter, j = letra
    # "be de burro", "ese como en sapo": one letter, confirmed by a word's initial.
    if j + 1 < len(ps) and ps[j] in _ACLARACION:
        k = j + 1
        if ps[j] == "como" and k < len(ps) and ps[k] == "en":
            k += 1
        if k < len(ps) and not _es_nombre(ps, k):
            aclarada = _aclarada(caracter, p, ps[k])
            return ((aclarada,), k + 1) if aclarada else None
    if p in _BV and j == i + 1:
        # "be" or "ve" with nothing to tell them apart: the recogniser's spelling is a guess.
        return (caracter, "V" if caracter == "B" else "B"), j
    return (caracter,), j


def _repetida(ps: Sequence[str], i: int) -> tuple[int, bool, int] | None:
    """ "dos veces" at ps[i]: how many times, whether an article follows ("la erre"), and the
    position after it."""
    numero = _cifras(ps, i)
    if numero is None or numero[0] not in ("2", "3") or numero[1] >= len(ps) \
            or ps[numero[1]] != "veces":
        return None
    j = numero[1] + 1
    articulo = j < len(ps) and ps[j] in _ARTICULOS
    return int(numero[0]), articulo, j + articulo


_PLURALES_CIFRA = {"ceros": "cero", "unos": "uno", "doses": "dos", "treses": "tres",
                   "cuatros": "cuatro", "cincos": "cinco", "seises": "seis", "sietes": "siete",
                   "ochos": "ocho", "nueves": "nueve"}


def _plural(ps: Sequence[str], i: int) -> tuple[tuple[str, ...], int] | None:
    """ "dos erres", "dos ceros" at ps[i]: the letter or digit repeated, and where it ends."""
    numero = _cifras(ps, i)
    if numero is None or numero[0] not in ("2", "3") or numero[1] >= len(ps):
        return None
    veces, palabra = int(numero[0]), ps[numero[1]]
    if palabra in _MULETILLAS:  # "… cero dos es todo": "es" is not two E
        return None
    singular = _PLURALES_CIFRA.get(palabra) or (palabra[:-1] if palabra.endswith("s") else None)
    if palabra in _NOMBRES_LETRA and palabra.endswith("s"):
        singular = palabra  # "equis" is its own plural: "dos equis" may be XX or 2X
    if singular is None or (singular not in _NOMBRES_LETRA and singular not in _UNIDADES):
        return None
    unidad = _unidad([singular], 0)
    if unidad is None:
        return None
    lecturas = [a * veces for a in unidad[0]]
    if palabra == singular:
        lecturas += [numero[0] + a for a in unidad[0]]
    return tuple(lecturas), numero[1] + 1


def _unidades(ps: list[str]) -> list[tuple[str, ...] | str] | None:
    """Readings of each letter or number said, left to right, with the corrections marked;
    None as soon as a word is not understood."""
    salida: list[tuple[str, ...] | str] = []
    i = 0
    while i < len(ps):
        p = ps[i]
        compuesta = i + 1 < len(ps) and (p, ps[i + 1]) in _COMPUESTAS
        anterior = salida[-1] if salida and salida[-1] != _CORRECCION else None
        if p == _CORRECCION:
            if anterior is not None:
                salida.append(_CORRECCION)
            i += 1
            continue
        fecha = _fecha(ps, i)
        if fecha is not None:
            salida.append((fecha[0],))
            i = fecha[1]
            continue
        plural = _plural(ps, i)
        if plural is not None:
            salida.append(plural[0])
            i = plural[1]
            continue
        repetida = _repetida(ps, i)
        if repetida is not None:
            veces, articulo, j = repetida
            siguiente = _unidad(ps, j) if j < len(ps) and ps[j] != _CORRECCION else None
            if siguiente is None and (articulo or anterior is None):
                return None
            if siguiente is None:
                # "erre, dos veces": the letter before.
                salida[-1] = tuple(a * veces for a in anterior)
                i = j
                continue
            lecturas = {a * veces for a in siguiente[0]}
            if anterior is not None and not articulo:
                # "erre dos veces ene": R R N or R N N, both readings stay.
                salida[-1] = tuple(dict.fromkeys(
                    [a * veces + b for a in anterior for b in siguiente[0]]
                    + [a + b * veces for a in anterior for b in siguiente[0]]))
            else:
                salida.append(tuple(sorted(lecturas)))
            i = siguiente[1]
            continue
        if p in _MULETILLAS and not compuesta:
            i += 1
            continue
        if p == "y" and not compuesta:
            # "a y o o": the conjunction, or the letter I as the recogniser wrote it.
            salida.append(("", "I"))
            i += 1
            continue
        unidad = _unidad(ps, i)
        if unidad is None:
            return None
        salida.append(unidad[0])
        i = unidad[1]
    return salida


def _lecturas(unidades: list[tuple[str, ...] | str]) -> set[str]:
    """Every string the units can spell; a correction replaces one or more units before it."""
    segmentos: list[list[tuple[str, ...]]] = [[]]
    for u in unidades:
        if u == _CORRECCION:
            segmentos.append([])
        else:
            segmentos[-1].append(u)
    if not segmentos[-1]:
        return set()  # a correction with nothing after it
    secuencias = [segmentos[0]]
    for segmento in segmentos[1:]:
        # A correction takes back at most as much as it says again ("cero dos, no, cero tres").
        secuencias = [s[:len(s) - corte] + segmento for s in secuencias
                      for corte in range(1, min(len(s), len(segmento)) + 1)]
    total = sum(math.prod(len(u) for u in s) for s in secuencias)
    if total > _MAX_LECTURAS:
        return set()
    return {"".join(partes) for s in secuencias for partes in itertools.product(*s)}


def _deletreo(ps: list[str]) -> str | None:
    """The literal reading of letters and digits said, as the recogniser wrote them."""
    unidades = _unidades(ps)
    if unidades is None or _CORRECCION in unidades:
        return None
    return "".join(u[0] for u in unidades)


def lecturas_documento(texto: str) -> set[str]:
    """Every reading of *texto* that is a valid CURP (18) or RFC of a persona física (13).

    Homophones the recogniser wrote one way (b/v, "y" for I), a year said whole and a
    self-correction each leave more than one reading; the check digit is never changed. Where
    several readings of an RFC have its format, those whose check digit is right are kept if
    any is (it is not required otherwise: about 1.5 % of real RFCs fail it).
    """
    tokens = _tokens_documento(texto or "")
    tokens = _quitar_frases(tokens, _FRASES_MULETILLA)
    tokens = _sin_preambulo(tokens)
    tokens = _quitar_frases(tokens, _FRASES_CORRECCION, _CORRECCION)
    unidades = _unidades(tokens)
    if not unidades:
        return set()
    validas = {d for d in _lecturas(unidades)
               if (len(d) == 18 and validar_curp(d)) or (len(d) == 13 and validar_rfc(d))}
    if len(validas) > 1:
        con_digito = {d for d in validas if len(d) == 18 or rfc_con_digito_correcto(d)}
        validas = con_digito or validas
    return validas


def entender_documento(texto: str,
                       registrado: Callable[[str], bool] | None = None) -> str | None:
    """The CURP or RFC spelled in *texto*: its only valid reading that is *registrado*.

    Without *registrado* every valid reading counts, so two valid readings are two answers
    and nothing is chosen. With it, a homophone is settled only when exactly one reading is
    both valid and registered; the surname must then match that person. Otherwise None: ask
    again.
    """
    validas = lecturas_documento(texto)
    if registrado is not None:
        validas = {d for d in validas if registrado(d)}
    return validas.pop() if len(validas) == 1 else None


# ---------------------------------------------------------------------------------------------
# Surnames
# ---------------------------------------------------------------------------------------------

_PARTICULAS = {"de", "del", "la", "las", "los", "y"}
_FRASES_MULETILLA_APELLIDO = [
    p.split() for p in ("a ver", "se apellida", "se llama", "me apellido", "el apellido",
                        "su apellido", "mi apellido")
]
_MULETILLAS_APELLIDO = {
    "mi", "su", "primer", "primero", "apellido", "apellidos", "paterno", "es", "soy",
    "titular", "este", "eh", "mmm", "pues", "bueno", "ok", "okay", "si", "gracias", "senor",
    "senora", "senorita", "seria", "nombre", "son", "mis",
}
_NEGACIONES = {"no", "perdon", "digo", "corrijo", "mejor"}
_VOCALES = set("aeiou")


def _clave_fonetica(palabra: str) -> str:
    """A key equal for spellings a Mexican recogniser can't tell apart (Gómez, Gomes, Gomez).

    Only sounds that are identical in Mexican Spanish merge: b/v, s/z/c(e,i), ll/y, silent h,
    qu/k/c(a,o,u), j/g(e,i), x read as j before a vowel, n as m before b/p; and ñ as n, as the
    keypad already does (both on 6) and as recognisers without the name in their vocabulary
    write it. Different sounds stay different, so Godínez is never Gómez and Hernández never
    Fernández. The surname only confirms the person the CURP/RFC already found.
    """
    p = re.sub(r"[^a-zñ]", "", _sin_acentos(palabra).lower())
    salida: list[str] = []
    i = 0
    while i < len(p):
        c = p[i]
        sig = p[i + 1] if i + 1 < len(p) else ""
        tras = p[i + 2] if i + 2 < len(p) else ""
        if c == "c" and sig == "h":
            salida.append("ʧ")
            i += 2
            continue
        # ll sounds y; qu is k; gu before e/i is g; sc before e/i is s (Ascencio).
        dos = {"ll": "y", "qu": "k"}.get(c + sig)
        if dos is None and tras in ("e", "i"):
            dos = {"gu": "g", "sc": "s"}.get(c + sig)
        if dos is not None:
            salida.append(dos)
            i += 2
            continue
        if c == "h":
            pass
        elif c == "c":
            salida.append("s" if sig in ("e", "i") else "k")
        elif c in "qk":
            salida.append("k")
        elif c == "z":
            salida.append("s")
        elif c in "vw":
            salida.append("b" if c == "v" else "u")
        elif c == "g" and sig in ("e", "i"):
            salida.append("j")
        elif c == "x":
            anterior = p[i - 1] if i else ""
            vocal_antes = not anterior or anterior in _VOCALES
            salida.append("j" if sig in _VOCALES and vocal_antes else "ks")
        elif c == "y":
            salida.append("y" if sig in _VOCALES else "i")
        elif c == "n" and sig in ("b", "v", "p"):
            salida.append("m")
        elif c == "ñ":
            salida.append("n")
        else:
            salida.append(c)
        i += 1
    return "".join(salida)


def _parece_deletreo(palabras: Sequence[str]) -> bool:
    """Whether every word is a letter name, as when a surname is spelled out."""
    return len(palabras) >= 3 and all(
        p in _NOMBRES_LETRA or p in _LETRAS_SUELTAS or p in _ACLARACION or p in _GRANDE
        or p in _CHICA or p in ("griega", "latina", "doble", "burro", "vaca")
        for p in palabras)


def _sin_particulas(palabras: Iterable[str]) -> list[str]:
    return [p for p in palabras if p not in _PARTICULAS]


def coincide_apellido(dicho: str, registrado: str) -> bool:
    """Whether the spoken first surname *dicho* is the registered *registrado*.

    Accents, case and particles (de, de la, del) don't count, and the caller may go on with
    the second surname; every word of the registered surname must sound the same. A surname
    spelled letter by letter must have exactly its letters (a spelled "be" is not a V).
    """
    palabras = _quitar_frases(_palabras(dicho), _FRASES_MULETILLA_APELLIDO)
    palabras = [p for p in palabras if p not in _MULETILLAS_APELLIDO]
    if not palabras or any(p in _NEGACIONES for p in palabras):
        return False
    registradas = _sin_particulas(_palabras(registrado))
    if not registradas:
        return False
    if _parece_deletreo(palabras):
        letras = _deletreo(palabras)
        return bool(letras) and letras.lower() == "".join(registradas)
    dichas = [_clave_fonetica(p) for p in _sin_particulas(palabras)]
    claves = [_clave_fonetica(p) for p in registradas]
    n = len(claves)
    # The caller may go on with the second surname ("Gómez Hernández"), but no further.
    if dichas[:n] == claves and len(dichas) - n <= 2:
        return True
    # A compound surname said as one word or written apart ("Delacruz", "Santa María"): the
    # same sounds in the same order, particles included or all left out.
    juntas = {_clave_fonetica("".join(_palabras(registrado))),
              _clave_fonetica("".join(registradas))}
    return any(_clave_fonetica("".join(palabras[:j])) in juntas and len(palabras) - j <= 2
               for j in range(1, len(palabras) + 1))


def elegir_por_apellido(dicho: str, candidatos: list[str]) -> list[int]:
    """Indexes of the *candidatos* (registered first surnames) that *dicho* matches."""
    return [i for i, c in enumerate(candidatos) if coincide_apellido(dicho, c)]


# ---------------------------------------------------------------------------------------------
# Menus, yes/no
# ---------------------------------------------------------------------------------------------

# Words around a key said aloud: "la opción número cinco", "quiero el 5", "marco la siete".
_MULETILLAS_OPCION = {
    "el", "la", "lo", "los", "opcion", "numero", "tecla", "quiero", "quisiera", "marco",
    "marcar", "presiono", "presionar", "oprimo", "oprimir", "elijo", "escojo", "por", "favor",
    "este", "eh", "mmm", "pues", "bueno", "a", "ver", "de", "del", "es", "seria", "sea",
    "digito", "boton", "me", "interesa", "ok", "okay", "si", "dame", "deme", "esa", "ese",
}
_TECLAS_SIMBOLO = {"*": ["asterisco", "estrella"], "#": ["gato", "numeral", "almohadilla"]}


_VERBOS_NEGABLES = {"soy", "quiero", "es", "necesito", "deseo", "ocupo", "me", "la", "lo",
                    "voy", "puedo", "estoy", "llamo", "hablo"}


def _negada(palabras: Sequence[str], inicio: int) -> bool:
    """Whether the phrase at *inicio* is negated: a "no" just before it ("no quiero …"), or a
    negated verb a little before it ("no soy el titular", "no quiero hablar con un agente")."""
    if "no" in palabras[max(0, inicio - 2):inicio]:
        return True
    ventana = palabras[max(0, inicio - 6):inicio]
    return any(p == "no" and ventana[i + 1] in _VERBOS_NEGABLES
               for i, p in enumerate(ventana[:-1]))


def _mejores(palabras: Sequence[str], frases_por_clave: dict[str, list[str]]
             ) -> tuple[int, list[tuple[int, str]]]:
    """The longest phrase length matched, and (position, key) of every match that long."""
    mejor, ganadoras = 0, []
    for clave, frases in frases_por_clave.items():
        for frase in frases:
            f = _frase(frase)
            for inicio in _contiene(palabras, f):
                if f[0] != "no" and _negada(palabras, inicio):
                    continue
                if len(f) > mejor:
                    mejor, ganadoras = len(f), []
                if len(f) == mejor:
                    ganadoras.append((inicio, clave))
    return mejor, ganadoras


def entender_opcion(texto: str, opciones: dict[str, list[str]]) -> str | None:
    """The key of *opciones* that *texto* names: by its phrases or by its digit said alone.

    A digit counts only when it is all the caller said, besides words like "la opción" —
    "cero" inside a spoken CURP must not reach the agent key. The longest phrase wins; two
    keys with equally long matches are a no-match.
    """
    palabras = _palabras(texto)
    if not palabras:
        return None
    resto = [p for p in palabras if p not in _MULETILLAS_OPCION]
    numero = _numero_solo(resto) if resto else None
    if numero is not None and str(numero) in opciones:
        return str(numero)
    frases = {clave: [*lista, *_TECLAS_SIMBOLO.get(clave, [])]
              for clave, lista in opciones.items()}
    _, ganadoras = _mejores(palabras, frases)
    claves = {clave for _, clave in ganadoras}
    return claves.pop() if len(claves) == 1 else None


_SI = [
    "si", "sip", "simon", "claro", "claro que si", "correcto", "es correcto", "esta correcto",
    "confirmo", "confirmado", "confirmar", "asi es", "adelante", "de acuerdo", "ok", "okay",
    "esta bien", "afirmativo", "exacto", "exactamente", "efectivamente", "andale", "sale",
    "aja", "perfecto", "por supuesto", "cancelela", "cancelala", "cancelarla", "cancelar",
    "hagalo", "proceda", "procede", "como no", "por que no", "no hay problema",
    "si por favor", "eso es", "va", "orale", "sale y vale", "yes", "dale",
]
_NO = [
    "no", "nop", "nel", "negativo", "mejor no", "todavia no", "aun no", "no gracias",
    "ya no quiero cancelar", "no quiero cancelar", "no la cancele", "no lo cancele",
    "no cancele", "no cancelar", "no confirmo", "no es correcto", "no esta bien", "incorrecto",
    "para nada", "de ninguna manera", "dejela", "dejela asi", "no quiero", "ahorita no",
    "no por favor", "nunca",
    # dropping it, said the Mexican way
    "siempre no", "mejor siempre no", "ya no", "mejor ya no", "ya mejor no", "olvidelo",
    "olvidalo", "olvidela", "dejelo", "dejelo asi", "asi dejelo", "asi dejela", "asi dejala",
    "asi dejalo", "mejor dejelo", "ahi muere", "ahi lo dejamos", "ahi le dejamos", "no se moleste",
    "mejor no la cancele", "mejor lo dejo asi", "mejor la dejo",
]
_DUDA = ["no se", "no estoy seguro", "no estoy segura", "quien sabe", "tal vez", "a lo mejor",
         "quiza", "quizas", "no entendi", "como", "que"]


def _marcas(palabras: list[str], frases: Iterable[str]) -> list[tuple[int, int]]:
    """(start, end) of each phrase found, longest first, without overlaps."""
    tomadas: list[tuple[int, int]] = []
    for frase in sorted((_frase(f) for f in frases), key=len, reverse=True):
        for inicio in _contiene(palabras, frase):
            fin = inicio + len(frase)
            if all(fin <= a or inicio >= b for a, b in tomadas):
                tomadas.append((inicio, fin))
    return tomadas


def entender_si_no(texto: str) -> bool | None:
    """True for a yes, False for a no, None when unclear or both ("no, sí quiero").

    Phrases are matched longest first, so "no hay problema" is a yes, "no es correcto" a no
    and "no sé" neither. A confirmation with both a yes and a no is re-asked, not guessed.
    """
    palabras = _palabras(texto)
    if not palabras:
        return None
    todas = [(a, b, "si") for a, b in _marcas(palabras, _SI)]
    todas += [(a, b, "no") for a, b in _marcas(palabras, _NO)]
    todas += [(a, b, "duda") for a, b in _marcas(palabras, _DUDA)]
    # Keep the longest phrase where yes, no and doubt overlap ("no hay problema" over "no").
    todas.sort(key=lambda m: m[0] - m[1])
    elegidas: list[tuple[int, int, str]] = []
    for a, b, tipo in todas:
        if all(b <= x or a >= y for x, y, _ in elegidas):
            elegidas.append((a, b, tipo))
    tipos = {tipo for _, _, tipo in elegidas}
    if tipos == {"si"}:
        return True
    if tipos == {"no"}:
        return False
    return None


# ---------------------------------------------------------------------------------------------
# Motivo of the cancellation
# ---------------------------------------------------------------------------------------------

# Phrases beyond the flow's `palabras`, by meaning. The longest phrase found wins, so
# "no puedo juntar los papeles" is documentation (3), not "no puedo" (2).
_MOTIVOS_FRASES: dict[int, list[str]] = {
    1: [
        "ya no lo necesito", "ya no necesito", "ya no lo ocupo", "ya no ocupo", "no lo necesito",
        "no necesito el prestamo", "ya no lo quiero", "ya no quiero el prestamo",
        "ya no me interesa", "no me interesa", "ya no lo voy a pedir", "ya no voy a pedir",
        "ya no lo requiero", "ya no requiero", "ya no me hace falta", "ya no hace falta",
        "ya consegui el dinero", "ya tengo el dinero", "ya me prestaron", "ya consegui",
        "me arrepenti", "cambie de opinion", "desisto", "ya no lo voy a necesitar",
        "ya no quiero pedir el prestamo", "ya no voy a tramitar", "ya no lo voy a tramitar",
        "ya no quiero sacar el prestamo", "ya no quiero el credito", "ya no necesito el dinero",
        "ya no lo quiero pedir", "ya no me urge", "ya no quiero solicitarlo",
        # said the long way round
        "ya no va a ser necesario", "ya no es necesario", "ya no sera necesario",
        "ya se resolvio", "ya lo resolvi", "ya se soluciono", "ya lo solucione",
        "siempre no voy a pedir", "siempre no lo voy a pedir", "siempre no", "ya me ayudo",
        "ya me ayudaron", "me presto", "me prestaron", "me va a prestar",
        "ya no me va a hacer falta", "ya no lo voy a ocupar", "ya no voy a ocupar",
        "ya no lo voy a requerir",
        "ya tengo para", "ya junte el dinero", "ya me alcanzo", "ya salio el dinero",
        "decidi no pedirlo", "mejor no lo pido", "ya no quiero endeudarme", "ya no quiero deudas",
    ],
    2: [
        "no puedo ir", "no puedo asistir", "no voy a poder", "no podre ir", "no podre asistir",
        "no voy a poder ir", "no puedo ese dia", "ese dia no puedo", "no puedo a esa hora",
        "a esa hora no puedo", "no me queda el horario", "no me queda la hora",
        "el horario no me queda", "no me acomoda el horario", "no me acomoda la hora",
        "tengo trabajo", "me toca trabajar", "tengo que trabajar", "no me dieron permiso",
        "no me dan permiso", "estoy enfermo", "estoy enferma", "me enferme", "me enfermé",
        "tengo un compromiso", "tengo otro compromiso", "se me complica", "no alcanzo a llegar",
        "no llego", "no llegaria", "no voy a llegar", "salgo de viaje", "voy a estar de viaje",
        "estoy de viaje", "no voy a estar", "no estare", "tengo una emergencia",
        "tuve una emergencia", "tengo cita en el medico", "no me da tiempo", "no puedo",
        "no podre", "no asistire", "no voy a asistir", "voy a estar fuera", "estoy fuera",
        "no tengo quien me lleve", "estoy hospitalizado", "estoy hospitalizada", "me operan",
        "no puedo faltar al trabajo", "el horario", "la hora", "no me alcanza el tiempo",
        "no tengo tiempo", "me falta tiempo", "se me atraveso algo", "me cambiaron el turno",
        "me cambiaron el horario", "tengo que cuidar",
        # health: an illness or an operation, one's own or a relative's
        "me van a operar", "me voy a operar", "me operan", "me operaron", "operacion", "cirugia",
        "enfermo", "enferma", "enfermedad", "malo de", "mala de", "ando malo", "ando mala",
        "me siento mal", "me internaron", "internado", "internada", "hospital", "incapacitado",
        "incapacitada", "incapacidad", "covid", "me lastime", "me fracture", "me cai",
        "estoy embarazada", "me voy a aliviar", "dar a luz", "estoy cuidando", "la estoy cuidando",
        "lo estoy cuidando",
        # away
        "no voy a estar en la ciudad", "fuera de la ciudad", "ando fuera", "voy a salir",
        "salgo de la ciudad", "me voy a mi pueblo", "mi pueblo", "salgo de vacaciones",
        "de vacaciones", "vacaciones", "de viaje", "me voy de viaje", "no estoy en la ciudad",
        "no voy a estar aqui", "ando de viaje",
        # the children
        "no tengo quien me cuide", "no tengo quien cuide", "no hay quien cuide",
        "no tengo con quien dejar", "no tengo con quien dejarlos", "cuidar a mis hijos",
        "cuidar a los niños", "cuidar a mi hijo", "cuidar a mi hija", "los niños", "guarderia",
        # a move
        "mudanza", "me estoy mudando", "me voy a mudar", "me estoy cambiando de casa",
        "me cambio de casa", "me voy a cambiar de casa", "cambiando de casa",
    ],
    3: [
        "me faltan papeles", "me falta un papel", "me faltan documentos", "me falta un documento",
        "me falta documentacion", "no tengo completa la documentacion",
        "no tengo los documentos", "no tengo los papeles", "no tengo mis papeles",
        "no tengo mis documentos", "no tengo todos los documentos", "no tengo todos los papeles",
        "no junte los papeles", "no he juntado los papeles", "no puedo juntar los papeles",
        "no alcance a juntar", "no completo los requisitos", "no cumplo los requisitos",
        "me falta un requisito", "me faltan requisitos", "no tengo la constancia",
        "no tengo el talon de pago", "no tengo mi talon", "no tengo mi identificacion",
        "no tengo mi ine", "se me perdio mi ine", "perdi mi credencial", "perdi mi ine",
        "no tengo el comprobante", "no tengo comprobante de domicilio", "me falta el comprobante",
        "me falta mi ine", "me falta la constancia", "me falta el talon",
        "no tengo la documentacion", "documentacion incompleta", "requisitos", "comprobante",
        "talon de pago", "identificacion", "constancia", "expediente", "ine", "talon",
        "credencial", "acta de nacimiento", "estado de cuenta",
    ],
    4: [
        "otra fecha", "otro dia", "otra oficina", "otra unidad", "otra sucursal", "otro horario",
        "otra hora", "cambiar la fecha", "cambiar la cita", "cambiar mi cita", "cambiar el dia",
        "cambiar de oficina", "cambiar de unidad", "cambiar la hora", "cambiar el horario",
        "mover la cita", "mover mi cita", "reagendar", "reprogramar", "volver a agendar",
        "agendar de nuevo", "agendar en otra", "sacar otra cita", "hacer otra cita",
        "una oficina mas cerca", "mas cerca", "me queda lejos", "queda muy lejos",
        "esta muy lejos", "queda lejos", "otro lugar", "otra ciudad", "otro estado",
        "cambiarla", "cambiar", "posponer", "adelantar la cita", "recorrer la cita",
        # rescheduling said the long way round
        "la proxima semana", "la otra semana", "otra semana", "otro mes", "mas adelante",
        "para despues", "despues", "cita nueva", "nueva cita", "pasen para", "me la pasen",
        "me la cambien", "me la muevan", "recorrerla", "moverla", "pasarla", "otra ocasion",
        "en otro momento", "mas tarde", "me cambie de domicilio a otro", "me mude a otra",
        "me mude a otro", "me cambie de ciudad", "me cambie de estado", "me cambie a otra ciudad",
        "mudar de ciudad", "mudar de estado", "cambiar de ciudad", "cambiar de estado",
    ],
}
_NO_PUEDE, _REAGENDA = 2, 4
_ORDINALES = {"primera": 1, "primero": 1, "segunda": 2, "segundo": 2, "tercera": 3,
              "tercero": 3, "cuarta": 4, "cuarto": 4, "quinta": 5, "quinto": 5}


def entender_motivo(texto: str, motivos: list[dict]) -> tuple[int, str]:
    """(código, texto) of the motivo *texto* means; "otro motivo" with the caller's words.

    A number said alone ("el uno", "la opción dos", "la primera") picks that motivo. Then the
    longest phrase found, from the flow's `palabras` and this module's lists, decides; equal
    lengths go to the earliest in what was said. Nothing recognised is "otro motivo" (the
    highest code) keeping the caller's words, which the confirmation reads back.
    """
    por_codigo = {int(m["codigo"]): m for m in motivos}
    otro = max(por_codigo)
    dicho = (texto or "").strip().strip(".,;:¿?¡!").strip()
    palabras = _palabras(dicho)
    resto = [p for p in palabras if p not in _MULETILLAS_OPCION and p != "motivo"]
    numero = _numero_solo(resto) if resto else None
    if numero is None and len(resto) == 1:
        numero = _ORDINALES.get(resto[0])
    if numero in por_codigo:
        m = por_codigo[numero]
        return m["codigo"], m["texto"]
    frases: dict[str, list[str]] = {}
    for codigo, m in por_codigo.items():
        propias = [] if codigo == otro else list(m.get("palabras") or ())
        frases[str(codigo)] = propias + _MOTIVOS_FRASES.get(codigo, [])
    _, ganadoras = _mejores(palabras, frases)
    if ganadoras:
        codigo = int(min(ganadoras)[1])
        # "No puedo ese día, quiero otra fecha": the wish to reschedule is what to record.
        if codigo == _NO_PUEDE and _REAGENDA in por_codigo and any(_contiene(palabras, _frase(f))
                                       for f in frases.get(str(_REAGENDA), [])):
            codigo = _REAGENDA
        return por_codigo[codigo]["codigo"], por_codigo[codigo]["texto"]
    # "otro motivo" said as such is the option itself, not the caller's reason.
    opcion = {" ".join(p for p in _palabras(f) if p not in _MULETILLAS_OPCION and p != "motivo")
              for f in por_codigo[otro].get("palabras") or ()}
    if resto and " ".join(resto) in opcion:
        return por_codigo[otro]["codigo"], por_codigo[otro]["texto"]
    return por_codigo[otro]["codigo"], dicho or por_codigo[otro]["texto"]


# ---------------------------------------------------------------------------------------------
# A third party's name
# ---------------------------------------------------------------------------------------------

_INICIO_NOMBRE = re.compile(
    r"^(?:(?:este|eh+|mmm+|pues|bueno|a ver|s[ií]|ok(?:ay)?|hola|buenas tardes|buenos d[ií]as|"
    r"buenas noches|buenas)[\s,.]+)*"
    r"(?:(?:mi|su|el) nombre (?:completo )?es|me llamo|se llama|yo soy|soy|habla|le habla|"
    r"mi nombre|es)?[\s,.:]*",
    re.IGNORECASE)
_FIN_NOMBRE = re.compile(
    r"[\s,.]*(?:gracias|muchas gracias|para servirle|a sus [oó]rdenes|por favor)?[\s,.!]*$",
    re.IGNORECASE)
# What callers add after the name: "…, y soy su hija", "… le llamo por mi papá".
_COLA_NOMBRE = re.compile(r"[\s,.]+(?:y\s+)?(?:soy|llamo|hablo|le llamo|le hablo)\b.*$",
                          re.IGNORECASE)
_MINUSCULAS_NOMBRE = {"de", "del", "la", "las", "los", "y", "e", "van", "von"}


def entender_nombre(texto: str) -> str | None:
    """A caller's full name as said, without "me llamo" and the like, capitalised; or None."""
    limpio = _INICIO_NOMBRE.sub("", (texto or "").strip(), count=1)
    limpio = _FIN_NOMBRE.sub("", _COLA_NOMBRE.sub("", limpio, count=1), count=1)
    palabras = [p for p in re.split(r"[^\w'-]+", limpio) if re.search(r"[^\W\d_]", p)]
    if not palabras or {_sin_acentos(p).lower() for p in palabras} <= {"no", "se", "nada"}:
        return None
    nombre = []
    for i, p in enumerate(palabras):
        minuscula = p.lower()
        nombre.append(minuscula if i and minuscula in _MINUSCULAS_NOMBRE
                      else "-".join(s[:1].upper() + s[1:].lower() for s in p.split("-")))
    return " ".join(nombre)[:200]
