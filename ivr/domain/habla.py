"""Spoken Mexican Spanish as a speech recogniser writes it: IDs spelled aloud, surnames, answers.

Every function here reads the text of Twilio's `SpeechResult` (es-MX). The CURP/RFC parser is
deliberately literal: it reads what was said once, left to right, and never tries alternative
readings to find one that validates. The check digit cannot catch a wrong day-tens digit or an
H for an M, so a "repaired" CURP can be somebody else's; a failed parse is re-asked instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from ivr.domain.documento import validar_curp, validar_rfc

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


def _contiene(palabras: Sequence[str], frase: Sequence[str]) -> list[int]:
    """Start positions where *frase* occurs in *palabras* as whole words."""
    n = len(frase)
    if not n:
        return []
    return [i for i in range(len(palabras) - n + 1) if list(palabras[i:i + n]) == list(frase)]


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
_MULETILLAS = {
    "mi", "su", "curp", "rfc", "es", "este", "esta", "eh", "ehh", "mmm", "mm", "hmm", "ok",
    "okay", "oki", "bueno", "pues", "la", "el", "numero", "letra", "clave", "homoclave",
    "guion", "espacio", "punto", "coma", "son", "seria", "entonces", "ahi", "aqui", "ya",
    "gracias", "listo", "con", "que", "tiene", "dice", "y", "si", "claro", "siguiente", "creo",
    "mire", "mira", "oiga", "fijese", "senorita", "senor", "joven",
}
_FRASES_MULETILLA = [
    p.split() for p in (
        "a ver", "eso es todo", "es todo", "nada mas", "por favor", "con gusto",
        "clave unica de registro de poblacion", "registro federal de contribuyentes",
        "fecha de nacimiento",
    )
]
# Spelled labels at the start: "mi erre efe ce es …", "ce u erre pe …".
_ETIQUETAS_DELETREADAS = [
    p.split() for p in ("erre efe ce", "ere efe ce", "erre efe se", "ere efe se", "r f c",
                        "ce u erre pe", "se u erre pe", "c u r p")
]
# Words that mean the caller corrected or doubted what they said: re-ask, don't pick one.
_CORRECCIONES = {"no", "perdon", "digo", "corrijo", "espere", "espera", "equivoque", "mejor",
                 "otra", "sea", "elle", "che"}
_ACLARACION = {"de", "como"}
_MAYUSCULAS_MULETILLA = {"CURP", "RFC", "OK"}


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


def _tokens_documento(texto: str) -> list[str] | None:
    """Words of *texto* with spelled blocks split into characters; None on a stray symbol."""
    salida: list[str] = []
    for original in re.split(r"[^0-9A-Za-zÑñÁÉÍÓÚÜáéíóúü]+", unicodedata.normalize("NFC", texto)):
        if not original:
            continue
        if original.isdigit():
            salida.extend(original)
        elif _token_es_deletreo(original):
            salida.extend(_sin_acentos(original).lower())
        elif original == "Y":
            # A capital Y on its own is the letter, a lower-case y the conjunction.
            salida.append("ye")
        else:
            salida.append(_sin_acentos(original).lower())
    return salida


def _quitar_frases(palabras: list[str], frases: Iterable[Sequence[str]]) -> list[str]:
    frases = sorted(frases, key=len, reverse=True)
    salida: list[str] = []
    i = 0
    while i < len(palabras):
        for frase in frases:
            if palabras[i:i + len(frase)] == list(frase):
                i += len(frase)
                break
        else:
            salida.append(palabras[i])
            i += 1
    return salida


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
            or p.isdigit() or p in _MULETILLAS or p in _CORRECCIONES or p == "doble")


def _aclarada(letra: str, base: str, palabra: str) -> str | None:
    """The letter clarified by *palabra* ("be de burro"), or None when they disagree."""
    inicial = palabra[0].upper()
    if base in _BV and inicial in "BV":
        # "be" and "ve" sound alike; the clarifying word is what tells them apart.
        return inicial
    return letra if inicial == letra else None


def _deletreo(ps: list[str]) -> str | None:
    """Read letters and digits left to right; None as soon as a word is not understood."""
    salida: list[str] = []
    i = 0
    while i < len(ps):
        p = ps[i]
        compuesta = i + 1 < len(ps) and (p, ps[i + 1]) in _COMPUESTAS
        if p == "doble" and i + 1 < len(ps) and not compuesta:
            numero = _numero(ps, i + 1)
            if numero is not None and len(numero[0]) == 1:
                salida.append(numero[0] * 2)
                i = numero[1]
                continue
            letra = _letra(ps, i + 1)
            if letra is not None and ps[i + 1] not in _BV:
                salida.append(letra[0] * 2)
                i = letra[1]
                continue
            return None
        if p.isdigit():
            salida.append(p)
            i += 1
            continue
        numero = _numero(ps, i)
        if numero is not None:
            salida.append(numero[0])
            i = numero[1]
            continue
        if p in _MULETILLAS and not compuesta:
            i += 1
            continue
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
                caracter = _aclarada(caracter, ps[i], ps[k])
                if caracter is None:
                    return None
                j = k + 1
        salida.append(caracter)
        i = j
    return "".join(salida)


def entender_documento(texto: str) -> str | None:
    """The CURP (18) or RFC of a persona física (13) spelled in *texto*, if it validates."""
    tokens = _tokens_documento(texto or "")
    if not tokens:
        return None
    tokens = _quitar_frases(tokens, _FRASES_MULETILLA)
    if any(t in _CORRECCIONES for t in tokens):
        return None
    # A spelled label ("mi erre efe ce es …") is dropped only before the ID itself starts.
    inicio = 0
    while inicio < len(tokens) and tokens[inicio] in _MULETILLAS:
        inicio += 1
    for etiqueta in _ETIQUETAS_DELETREADAS:
        if tokens[inicio:inicio + len(etiqueta)] == etiqueta:
            tokens = tokens[inicio + len(etiqueta):]
            break
    documento = _deletreo(tokens)
    if documento is None:
        return None
    if len(documento) == 18 and validar_curp(documento):
        return documento
    if len(documento) == 13 and validar_rfc(documento):
        return documento
    return None


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
    return dichas[:n] == claves and len(dichas) - n <= 2


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
            f = _palabras(frase)
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
]
_DUDA = ["no se", "no estoy seguro", "no estoy segura", "quien sabe", "tal vez", "a lo mejor",
         "quiza", "quizas", "no entendi", "como", "que"]


def _marcas(palabras: list[str], frases: Iterable[str]) -> list[tuple[int, int]]:
    """(start, end) of each phrase found, longest first, without overlaps."""
    tomadas: list[tuple[int, int]] = []
    for frase in sorted((_palabras(f) for f in frases), key=len, reverse=True):
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
        if codigo == _NO_PUEDE and _REAGENDA in por_codigo and any(_contiene(palabras, _palabras(f))
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
