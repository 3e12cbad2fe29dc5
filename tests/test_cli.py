"""The `ivr` command as an operator meets it."""

import logging
import re
import shlex
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr import cancelacion
from ivr.cli import main
from ivr.db import engine_for
from ivr.demo import cargar_demo, dia_habil
from ivr.models import Base, Cancelacion, Cita

RAIZ = Path(__file__).resolve().parent.parent


def test_a_command_before_the_migrations_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/vacia.sqlite3")
    monkeypatch.delenv("REDIS_URL", raising=False)
    resultado = CliRunner().invoke(main, ["create-agent", "ana", "--password-stdin"],
                                   input="una-contrasena-larga\n")
    assert resultado.exit_code == 1
    assert "corra `ivr db upgrade` primero" in resultado.output
    assert "Traceback" not in resultado.output


def test_upgrade_then_the_same_command_works(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/ivr.sqlite3")
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    resultado = CliRunner().invoke(main, ["create-agent", "ana", "--password-stdin"],
                                   input="una-contrasena-larga\n")
    assert resultado.exit_code == 0, resultado.output
    assert "Agente 'ana' creado." in resultado.output


def guion_del_readme() -> list[str]:
    """The answers of the README's scripted call (`./dev run 5 1 7 …`), as written there."""
    [linea] = [x for x in (RAIZ / "README.md").read_text().splitlines()
               if x.startswith("./dev run ") and not x.split()[2].startswith("#")]
    return shlex.split(linea)[2:]


@pytest.fixture
def demo(tmp_path, monkeypatch):
    """`ivr db upgrade` and `ivr demo-data` on a fresh SQLite file, as `./dev run` does."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/ivr.sqlite3")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("AGENT_HOURS", "24/7")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    cargada = runner.invoke(main, ["demo-data"])
    assert cargada.exit_code == 0 and "RASF850312MDFMTR08" in cargada.output
    return runner


def test_the_readme_s_scripted_call_cancels_every_time_after_demo_data(demo):
    for vez in range(2):
        llamada = demo.invoke(main, ["call", *guion_del_readme()])
        assert llamada.exit_code == 0, (vez, llamada.output)
        assert "Su cita quedó cancelada." in llamada.output
        assert llamada.output.endswith("[llamada colgada]\n")
        # Ramírez has one cita left now: without the reset, the same answers land one step off.
        assert demo.invoke(main, ["demo-data"]).exit_code == 0


def test_demo_data_moves_the_dates_and_restores_cancelled_demo_citas(tmp_path):
    engine = engine_for(f"sqlite:///{tmp_path}/ivr.sqlite3")
    Base.metadata.create_all(engine)
    with Session(engine) as sesion:
        cargar_demo(sesion, date(2026, 11, 24))
        [cita] = sesion.scalars(select(Cita).where(Cita.clave == "DM3K7A"))
        assert cita.fecha == dia_habil(date(2026, 11, 24), 3)
        resultado = cancelacion.cancelar(
            sesion, cita.id, solicitante_tipo="titular", solicitante_nombre=None,
            motivo_codigo=1, motivo_texto="Ya no necesito el préstamo", canal="ivr",
            call_sid="CA1", ahora=datetime(2026, 11, 24, 16, tzinfo=UTC))
        assert resultado.resultado == "cancelada"
        sesion.commit()
        cargar_demo(sesion, date(2026, 12, 7))
        sesion.commit()
        citas = {c.clave: c for c in sesion.scalars(select(Cita))}
        assert (citas["DM3K7A"].estado, citas["DM3K7A"].fecha) == (
            "agendada", dia_habil(date(2026, 12, 7), 3))
        assert citas["DM4Q7C"].estado == "cancelada"  # Méndez's, cancelled by an agent, again
        canceladas = list(sesion.scalars(select(Cancelacion.cita_id)))
        assert canceladas == [citas["DM4Q7C"].id]
    engine.dispose()


def test_the_scripted_call_says_at_which_prompt_its_answers_ran_out(demo):
    llamada = demo.invoke(main, ["call", "5", "1"])
    assert llamada.exit_code == 1
    assert ("[se acabaron las respuestas: la línea esperaba una respuesta en «menu_citas»"
            in llamada.output)


def test_start_up_warnings_print_once_in_dev_run(tmp_path, monkeypatch, caplog):
    """`./dev run` is three commands, three processes: only the one that answers calls (the
    desk phone) warns about serving from this process."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/ivr.sqlite3")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    runner = CliRunner()
    with caplog.at_level(logging.WARNING):
        for comando in (["db", "upgrade"], ["demo-data"], ["call", *guion_del_readme()]):
            assert runner.invoke(main, comando).exit_code in (0, 1)
    avisos = [r.getMessage().split(":")[0] for r in caplog.records
              if r.levelno == logging.WARNING]
    assert sorted(avisos) == ["REDIS_URL no está definido", "SECRET_KEY no está configurada"]


INGLES = re.compile(r"\b(Usage|Options|Commands|Show|Run|Set|Apply|Load|Call|Create|the|and|"
                    r"this|of|to|from|with|for|instead|TEXT|INTEGER|PATH|FILE)\b")


def _comandos(grupo, camino=()):
    yield camino
    for nombre, sub in getattr(grupo, "commands", {}).items():
        yield from _comandos(sub, (*camino, nombre))


@pytest.mark.parametrize("camino", list(_comandos(main)), ids=lambda c: " ".join(c) or "ivr")
def test_the_help_of_every_command_is_in_spanish(camino):
    ayuda = CliRunner().invoke(main, [*camino, "--help"], prog_name="ivr")
    assert ayuda.exit_code == 0, ayuda.output
    assert ayuda.output.startswith("Uso: ivr")
    texto = re.sub(r"--[a-z-]+", "", ayuda.output)  # option names stay (--from, as Twilio's From)
    assert INGLES.findall(texto) == [], ayuda.output
