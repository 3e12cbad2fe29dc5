"""The `ivr` command as an operator meets it."""

from click.testing import CliRunner

from ivr.cli import main


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


def test_the_desk_phone_runs_a_whole_scripted_call(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/ivr.sqlite3")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("AGENT_HOURS", "24/7")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    demo = runner.invoke(main, ["demo-data"])
    assert demo.exit_code == 0 and "RASF850312MDFMTR08" in demo.output
    llamada = runner.invoke(main, ["call", "5", "1", "7", "RASF850312MDFMTR08#", "Ramirez#",
                                   "1", "1", "1", "2", "1"])
    assert llamada.exit_code == 0, llamada.output
    assert "Su cita quedó cancelada." in llamada.output
    assert "[llamada colgada]" in llamada.output
