"""Benchmark: how long a first-time caller spends cancelling, step by step, keypad and voice.

Real calls walk through the desk phone (ivr/phone.py) against the app in-process, with one
cita like the seed guide's (UAPES No. 4, ventanilla 02, 13:30-13:45, clave UC3QK2). The caller:

- hears everything said outside a <Gather> whole;
- inside a <Gather>, answers as soon as the sentence that announces their option ends (keys
  and speech both interrupt a <Say> inside a <Gather>, as Twilio's bargeIn does): for a key,
  "presione 5"; for speech, the question or example it answers ("¿La cancela?"); where
  nothing is announced (the CURP, the surname), hears the whole prompt;
- takes 1 s per key (the # included) or 3 s per spoken answer;
- hears 15 characters of text per second.

Numbers, not pass/fail; rerun after changing a prompt:

    .venv/bin/python benchmarks/esfuerzo.py            # both paths
    .venv/bin/python benchmarks/esfuerzo.py --texto    # and what was heard at each step
"""

from __future__ import annotations

import argparse
import io
import logging
import re
import sys
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr import create_app, db, phone  # noqa: E402
from ivr.domain.keypad import a_teclas  # noqa: E402
from ivr.importer import COLUMNAS, importar_csv  # noqa: E402
from ivr.models import Base  # noqa: E402

TOKEN = "token-de-benchmark"
CARACTERES_POR_SEGUNDO = 15
SEGUNDOS_POR_TECLA = 1
SEGUNDOS_POR_RESPUESTA_HABLADA = 3
CURP, APELLIDO = "GOMA850123HDFRRN02", "Gómez"
# The node each menu step answers (a spoken answer may skip the next menus).
_NODO = {"menú principal": "menu_principal", "menú préstamos": "menu_prestamos",
         "menú citas": "menu_citas", "lectura de la cita": "cita", "solicitante": "solicitante",
         "motivo": "motivo", "confirmación": "confirmacion"}
# Where a sentence ends: the caller acts once the one announcing their option is over.
_FIN_DE_FRASE = re.compile(r"[.;?!](\s|$)")


@dataclass(frozen=True)
class Paso:
    """One answer of the caller: its name, keys or words, and what they wait to hear (a regular
    expression; the sentence it is in is heard to its end)."""

    nombre: str
    teclas: str | None = None
    habla: str | None = None
    senal: str | None = None


def _tecla(nombre: str, tecla: str) -> Paso:
    return Paso(nombre, tecla, senal=rf"(?i:presione) {re.escape(tecla)}\b")


TECLADO = [
    _tecla("menú principal", "5"),
    _tecla("menú préstamos", "1"),
    _tecla("menú citas", "7"),
    Paso("CURP", a_teclas(CURP) + "#"),
    Paso("apellido", a_teclas(APELLIDO) + "#"),
    _tecla("lectura de la cita", "1"),
    _tecla("solicitante", "1"),
    _tecla("motivo", "2"),
    _tecla("confirmación", "1"),
]
# By voice: the menus, the surname, the yes/no answers and the motivo are said; the CURP is
# keyed. Each answer comes once the menu option, the example or the question it answers has
# been said; the spoken menu answer may skip menus, as the line allows.
VOZ = [
    Paso("menú principal", habla="cancelar mi cita", senal=r"cancelar mi cita|(?i:presione) 5\b"),
    Paso("menú préstamos", habla="citas", senal=r"(?i:presione) 1\b"),
    Paso("menú citas", habla="cancelar", senal=r"(?i:presione) 7\b"),
    Paso("CURP", a_teclas(CURP) + "#"),
    Paso("apellido", habla=APELLIDO),
    Paso("lectura de la cita", habla="sí, cancélela", senal=r"\?|(?i:presione) 1\b"),
    Paso("solicitante", habla="sí, soy yo", senal=r"\?|(?i:presione) 1\b"),
    Paso("motivo", habla="no puedo ir ese día", senal=r"\?|(?i:presione) 2\b"),
    Paso("confirmación", habla="sí", senal=r"\?|(?i:presione) 1\b"),
]


def _app(carpeta: str):
    """The app on a temporary SQLite agenda with one cita a week from today."""
    app = create_app({"DATABASE_URL": f"sqlite:///{carpeta}/esfuerzo.sqlite3",
                      "TWILIO_AUTH_TOKEN": TOKEN, "AGENT_DIAL": "+525540001000",
                      "AGENT_HOURS": "24/7", "SECRET_KEY": "esfuerzo", "IN_PROCESS": True})
    logging.getLogger("ivr").setLevel(logging.ERROR)
    fecha = date.today() + timedelta(days=7)
    fila = [CURP, "", "Ana", APELLIDO, "", "5500000000", "UC3QK2", "UAPES No. 4", "02",
            fecha.isoformat(), "13:30", "13:45", "agendada"]
    csv_texto = ",".join(COLUMNAS) + "\n" + ",".join(fila) + "\n"
    with app.app_context():
        Base.metadata.create_all(db.engine_de(app))
        resultado = importar_csv(db.sesion(), io.StringIO(csv_texto))
        db.sesion().commit()
    if resultado.errores:
        raise SystemExit(f"agenda inválida: {resultado.errores}")
    return app


def _oido(eventos: list[tuple], senal: str | None) -> str:
    """What the caller hears of *eventos* (one turn) before answering."""
    fuera, dentro, en_gather = [], [], False
    for e in eventos:
        if e[0] == "gather":
            en_gather, dentro = True, []
        elif e[0] == "say":
            (dentro if en_gather else fuera).append(e[1])
    texto_gather = " ".join(dentro)
    if senal is not None:
        anuncio = re.search(senal, texto_gather)
        if anuncio:
            # A question heard ("¿La cancela?") is already the end of its sentence.
            fin = _FIN_DE_FRASE.search(texto_gather, anuncio.end() - 1)
            texto_gather = texto_gather[:fin.start() + 1 if fin else len(texto_gather)]
    return " ".join([*fuera, texto_gather]).strip()


def recorrer(app, pasos: list[Paso]) -> list[tuple[str, str, float, float]]:
    """(step, text heard, seconds heard, seconds answering) for each step, then the end."""
    tel = phone.Telefono(phone.FlaskTransport(app), TOKEN)
    tel.marcar()
    filas, desde = [], 0
    for paso in pasos:
        if not tel.esperando:
            raise SystemExit(f"la llamada terminó antes de «{paso.nombre}»: {tel.dicho}")
        if paso.senal and paso.habla and tel.ultimo_gather["action"].rsplit("/", 1)[-1] != \
                _NODO[paso.nombre]:
            continue  # a spoken answer went past this menu
        oido = _oido(tel.transcripcion[desde:], paso.senal)
        if paso.teclas is not None:
            respuesta = SEGUNDOS_POR_TECLA * len(paso.teclas)
            desde = len(tel.transcripcion)
            tel.press(paso.teclas)
        else:
            respuesta = SEGUNDOS_POR_RESPUESTA_HABLADA
            desde = len(tel.transcripcion)
            tel.say(paso.habla)
        filas.append((paso.nombre, oido, len(oido) / CARACTERES_POR_SEGUNDO, respuesta))
    final = _oido(tel.transcripcion[desde:], None)
    if "cancelada" not in final or tel.errores:
        raise SystemExit(f"la cancelación no terminó: {final!r} {tel.errores}")
    if tel.esperando:
        tel.colgar()  # the folio is written down: the caller hangs up
    filas.append(("cancelada y folio", final, len(final) / CARACTERES_POR_SEGUNDO, 0))
    return filas


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--texto", action="store_true", help="print what was heard at each step")
    p.add_argument("--llamadas", type=int, default=5, help="calls per path (mean)")
    args = p.parse_args(argv)
    totales = {}
    for nombre, pasos in (("teclado", TECLADO), ("voz", VOZ)):
        # Folios differ in how long they take to spell: the mean of several calls.
        corridas = []
        for _ in range(args.llamadas):
            with tempfile.TemporaryDirectory() as carpeta:
                app = _app(carpeta)  # each call cancels its own cita
                corridas.append(recorrer(app, pasos))
                with app.app_context():
                    db.engine_de(app).dispose()
        filas = [(f[0], f[1], sum(c[i][2] for c in corridas) / len(corridas), f[3])
                 for i, f in enumerate(corridas[0])]
        print(f"== {nombre}")
        print(f"{'paso':22} {'oído s':>7} {'respuesta s':>11} {'total s':>8}")
        for paso, oido, s_oido, s_resp in filas:
            print(f"{paso:22} {s_oido:7.1f} {s_resp:11.0f} {s_oido + s_resp:8.1f}")
            if args.texto:
                print(f"    «{oido}»")
        totales[nombre] = sum(f[2] + f[3] for f in filas)
        print(f"{'total':22} {sum(f[2] for f in filas):7.1f} {sum(f[3] for f in filas):11.0f} "
              f"{totales[nombre]:8.1f}\n")
    print("; ".join(f"{nombre}: {total:.0f} s" for nombre, total in totales.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
