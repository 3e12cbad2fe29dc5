"""CURP and RFC: normalisation, validation, kind and masking for logs."""

import re

from stdnum.exceptions import ValidationError
from stdnum.mx import curp as stdnum_curp
from stdnum.mx import rfc as stdnum_rfc

_SEPARADORES = re.compile(r"[\s.\-]+")


def normalizar(texto: str) -> str:
    """Upper-case *texto* and drop whitespace, hyphens and dots."""
    return _SEPARADORES.sub("", texto).upper()


def validar_curp(curp: str) -> bool:
    """Whether *curp* is a well-formed CURP with a correct check digit (sex H, M or X)."""
    curp = normalizar(curp)
    if len(curp) != 18:
        return False
    # RENAPO issues sex X (no binario) since 2023 and stdnum only knows H/M, so the rest of
    # the format is checked with H in its place and the check digit on the original string.
    sustituto = curp[:10] + "H" + curp[11:] if curp[10] == "X" else curp
    try:
        stdnum_curp.validate(sustituto, validate_check_digits=False)
    except ValidationError:
        return False
    return curp[17] == stdnum_curp.calc_check_digit(curp)


def validar_rfc(rfc: str) -> bool:
    """Whether *rfc* has the format of an RFC with homoclave (física 13, moral 12)."""
    rfc = normalizar(rfc)
    # stdnum also takes the 10-character RFC without homoclave, which the SAT never
    # issues on its own; the check digit is skipped since about 1.5 % of real RFCs fail it.
    if len(rfc) not in (12, 13):
        return False
    try:
        stdnum_rfc.validate(rfc, validate_check_digits=False)
    except ValidationError:
        return False
    return True


def rfc_con_digito_correcto(rfc: str) -> bool:
    """Whether *rfc* is a valid RFC whose homoclave check digit is also right."""
    try:
        stdnum_rfc.validate(normalizar(rfc), validate_check_digits=True)
    except ValidationError:
        return False
    return True


def tipo_documento(texto: str) -> str | None:
    """Return "curp" or "rfc" for a valid document, None for anything else."""
    if validar_curp(texto):
        return "curp"
    if validar_rfc(texto):
        return "rfc"
    return None


def enmascarar(doc: str) -> str:
    """Mask *doc* for logs and lists, keeping its first 4 and last 2 characters."""
    doc = normalizar(doc)
    if len(doc) <= 6:
        # Too short to show anything without showing most of it.
        return "*" * len(doc)
    return doc[:4] + "*" * (len(doc) - 6) + doc[-2:]
