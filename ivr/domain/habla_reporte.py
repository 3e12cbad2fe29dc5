"""Accuracy of the spoken-Spanish parsers over the labelled corpus, per file and category."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from ivr.domain import habla

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "corpus"


@dataclass(frozen=True)
class Caso:
    """One labelled case and what the parser made of it."""

    archivo: str
    categoria: str
    entrada: str
    esperado: object
    obtenido: object
    debe_rechazar: bool

    @property
    def acierto(self) -> bool:
        """Whether the parser gave the expected answer."""
        return self.obtenido == self.esperado


def _documentos(datos: dict) -> Iterator[tuple[dict, str, object, object, bool]]:
    for c in datos["casos"]:
        esperado = c["esperado"]
        # As the line does it: readings are settled against the registry. A caller to be
        # understood has their own document registered and no other; a case to be refused is
        # judged as if every valid reading of it were somebody's registered document.
        registrado = (lambda d, e=esperado: d == e) if esperado else None
        yield c, c["texto"], esperado, habla.entender_documento(c["texto"], registrado), \
            esperado is None


def _apellidos(datos: dict) -> Iterator[tuple[dict, str, object, object, bool]]:
    for c in datos["casos"]:
        yield (c, f'{c["dicho"]} ~ {c["registrado"]}', c["esperado"],
               habla.coincide_apellido(c["dicho"], c["registrado"]), not c["esperado"])


def _motivos(datos: dict) -> Iterator[tuple[dict, str, object, object, bool]]:
    for c in datos["casos"]:
        codigo, texto = habla.entender_motivo(c["texto"], datos["motivos"])
        esperado = (c["esperado"], c.get("texto_esperado", texto))
        yield c, c["texto"], esperado, (codigo, texto), False


def _si_no(datos: dict) -> Iterator[tuple[dict, str, object, object, bool]]:
    for c in datos["casos"]:
        yield c, c["texto"], c["esperado"], habla.entender_si_no(c["texto"]), \
            c["esperado"] is None


def _opciones(datos: dict) -> Iterator[tuple[dict, str, object, object, bool]]:
    for c in datos["casos"]:
        obtenido = habla.entender_opcion(c["texto"], datos["menus"][c["menu"]])
        yield c, f'{c["texto"]} [{c["menu"]}]', c["esperado"], obtenido, c["esperado"] is None


EVALUADORES: dict[str, Callable[[dict], Iterator[tuple[dict, str, object, object, bool]]]] = {
    "documentos.yaml": _documentos,
    "apellidos.yaml": _apellidos,
    "motivos.yaml": _motivos,
    "si_no.yaml": _si_no,
    "opciones.yaml": _opciones,
}


def casos(directorio: str | Path = CORPUS) -> list[Caso]:
    """Every case of the corpus files in *directorio*, run through its parser."""
    salida = []
    for nombre, evaluar in EVALUADORES.items():
        ruta = Path(directorio) / nombre
        if not ruta.exists():
            continue
        datos = yaml.safe_load(ruta.read_text(encoding="utf-8"))
        for c, entrada, esperado, obtenido, rechazo in evaluar(datos):
            salida.append(Caso(nombre, c["categoria"], entrada, esperado, obtenido, rechazo))
    return salida


def reporte(directorio: str | Path = CORPUS) -> list[tuple[str, str, int, int]]:
    """(archivo, categoría, casos, aciertos) for every category of every corpus file."""
    cuentas: dict[tuple[str, str], list[int]] = {}
    for caso in casos(directorio):
        cuenta = cuentas.setdefault((caso.archivo, caso.categoria), [0, 0])
        cuenta[0] += 1
        cuenta[1] += caso.acierto
    return [(archivo, categoria, total, aciertos)
            for (archivo, categoria), (total, aciertos) in cuentas.items()]


def _tabla(filas: list[tuple[str, str, int, int]]) -> list[str]:
    lineas = [f"{'archivo':<16} {'categoría':<28} {'casos':>5} {'aciertos':>8} {'%':>6}"]
    for archivo, categoria, total, aciertos in filas:
        lineas.append(f"{archivo:<16} {categoria:<28} {total:>5} {aciertos:>8} "
                      f"{100 * aciertos / total:>6.1f}")
    return lineas


def main(argv: list[str] | None = None) -> int:
    """Print the accuracy table; exit status 1 if a must-refuse case was accepted."""
    parser = argparse.ArgumentParser(prog="ivr speech-report", description=__doc__)
    parser.add_argument("directorio", nargs="?", default=str(CORPUS),
                        help="folder with the corpus YAML files (default: tests/corpus)")
    parser.add_argument("-v", "--fallos", action="store_true", help="list every failed case")
    args = parser.parse_args(argv)
    todos = casos(args.directorio)
    if not todos:
        print(f"no hay casos en {args.directorio}", file=sys.stderr)
        return 2
    print("\n".join(_tabla(reporte(args.directorio))))
    print()
    por_archivo: dict[str, list[Caso]] = {}
    for caso in todos:
        por_archivo.setdefault(caso.archivo, []).append(caso)
    for archivo, lista in por_archivo.items():
        rechazos = [c for c in lista if c.debe_rechazar]
        print(f"{archivo}: {sum(c.acierto for c in lista)}/{len(lista)} aciertos; "
              f"debe rechazar {sum(c.acierto for c in rechazos)}/{len(rechazos)}")
    fallos = [c for c in todos if not c.acierto]
    if args.fallos:
        for c in fallos:
            print(f"FALLO {c.archivo} [{c.categoria}] {c.entrada!r}: "
                  f"esperado {c.esperado!r}, obtenido {c.obtenido!r}")
    return 1 if any(c.debe_rechazar and not c.acierto for c in fallos) else 0


if __name__ == "__main__":
    sys.exit(main())
