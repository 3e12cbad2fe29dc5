"""The supervisor report: known calls placed through the desk phone, then every figure checked
exactly on the page, in its CSV and in `ivr informe`."""

import re
from datetime import date

import pytest

from ivr import informe
from ivr.cli import main
from tests.llamadas import GOMEZ, HERNANDEZ, hasta_curp
from tests.test_agentes import Agentes
from tests.test_llamada import identificar, teclas

CONTRASENA = "una-contrasena-larga"
DIA = "2026-11-24"  # AHORA of the test calls, in Mexico City


def cronometro(segundos: int):
    """A phone clock under which the call lasts exactly `segundos` (Twilio's CallDuration)."""
    return iter((0.0, float(segundos))).__next__


@pytest.fixture
def llamadas_conocidas(app, llamar):
    """Four calls of 24 November 2026 whose every figure is known."""
    # A: Gómez cancels on the keypad and hangs up after the folio (2 minutes).
    a = identificar(llamar(reloj=cronometro(120)), GOMEZ).press("1").press("1").press("2")
    a.press("1").tel.colgar()
    # B: Hernández says "préstamos" at the first menu, is identified, hears the cita and asks
    # for an agent, who answers; they talk, then hang up (5 minutes).
    b = llamar(reloj=cronometro(300)).say("préstamos").press("1").press("7")
    b.press(teclas(HERNANDEZ.curp)).press(teclas(HERNANDEZ.primer_apellido))
    assert b.nodo == "cita"
    b.press("0").tel.colgar()
    # C: silence at the CURP (one retry), then hangs up there (40 s).
    c = hasta_curp(llamar(reloj=cronometro(40))).silence()
    assert c.nodo == "curp"
    c.tel.colgar()
    # D: an agent from the first menu; nobody answers; 3 to end (1 minute).
    d = llamar(reloj=cronometro(60), resultado_dial="no-answer").press("0")
    assert d.nodo == "reintento"
    d.press("3")
    assert d.tel.colgada
    return app


def _informe(app):
    from ivr import db

    with app.app_context():
        return informe.del_periodo(db.sesion(), date(2026, 11, 24), date(2026, 11, 24))


def test_every_figure_from_known_calls(llamadas_conocidas):
    datos = _informe(llamadas_conocidas)
    [dia] = datos.dias
    embudo = {campo: getattr(dia, campo) for campo, _ in informe.EMBUDO}
    assert embudo == {"llamadas": 4, "curp": 3, "identificadas": 2, "oyeron_cita": 2,
                      "confirmaron": 1, "canceladas": 1}
    assert {c: getattr(datos.total, c) for c in embudo} == embudo
    assert dia.contencion == pytest.approx(1 / 3)
    assert datos.abandonos == [("curp", 1)]
    assert {r: dict(c) for r, c in datos.transferencias.items()} == {
        "pidio_agente": {"total": 2, "atendida": 1, "sin_respuesta": 1}}
    assert (datos.duracion_mediana, datos.duracion_p90, datos.con_duracion) == (90, 300, 4)
    assert {n: dict(c) for n, c in datos.entradas.items()} == {
        "menu_principal": {"teclas": 3, "voz": 1, "reintentos": 0},
        "menu_prestamos": {"teclas": 3, "reintentos": 0},
        "menu_citas": {"teclas": 3, "reintentos": 0},
        "curp": {"teclas": 2, "silencio": 1, "reintentos": 1},
        "apellido": {"teclas": 2, "reintentos": 0},
        "cita": {"teclas": 2, "reintentos": 0},
        "solicitante": {"teclas": 1, "reintentos": 0},
        "motivo": {"teclas": 1, "reintentos": 0},
        "confirmacion": {"teclas": 1, "reintentos": 0},
        "reintento": {"teclas": 1, "reintentos": 0},  # the offers after D's failed dial
    }


def test_other_days_are_not_counted(llamadas_conocidas):
    from ivr import db

    with llamadas_conocidas.app_context():
        datos = informe.del_periodo(db.sesion(), date(2026, 11, 25), date(2026, 11, 30))
    assert [d.llamadas for d in datos.dias] == [0] * 6 and datos.total.llamadas == 0
    assert datos.transferencias == {} and datos.duracion_mediana is None


CSV = ("fecha,llamadas,curp,identificadas,oyeron_cita,confirmaron,canceladas,contencion\r\n"
       "2026-11-24,4,3,2,2,1,1,0.3333\r\n"
       "total,4,3,2,2,1,1,0.3333\r\n")


def _supervisor(app, supervisor=True):
    argumentos = ["rosa", "--password-stdin"] + (["--supervisor"] if supervisor else [])
    resultado = app.test_cli_runner().invoke(main, ["create-agent", *argumentos],
                                             input=CONTRASENA + "\n")
    assert resultado.exit_code == 0, resultado.output
    cliente = Agentes(app.test_client())
    assert cliente.entrar("rosa", CONTRASENA).status_code == 302
    return cliente.client


def test_the_supervisor_s_page_shows_the_same_figures(llamadas_conocidas):
    cliente = _supervisor(llamadas_conocidas)
    pagina = cliente.get(f"/agent/informe?desde={DIA}&hasta={DIA}")
    assert pagina.status_code == 200
    html = pagina.get_data(as_text=True)
    assert re.search(r'id="contencion">33\.3 %<', html)
    svg = re.search(r"<svg .*?</svg>", html, re.S).group(0)
    assert re.findall(r"<title>([^<]*)</title>", svg) == [
        "Llamadas: 4 (100.0 %)", "Llegaron a la CURP: 3 (75.0 %)", "Identificadas: 2 (50.0 %)",
        "Oyeron su cita: 2 (50.0 %)", "Confirmaron: 1 (25.0 %)", "Canceladas: 1 (25.0 %)"]
    assert "<script" not in html and "cdn" not in html.lower()
    assert 'id="duracion">Mediana 90 s · p90 300 s (4 llamadas' in html
    assert "Informe" in html and 'id="enlace-informe"' in html
    descarga = cliente.get(f"/agent/informe.csv?desde={DIA}&hasta={DIA}")
    assert descarga.status_code == 200
    assert descarga.headers["Content-Disposition"] == (
        f'attachment; filename="informe_{DIA}_{DIA}.csv"')
    assert descarga.get_data(as_text=True) == "\ufeff" + CSV


def test_agents_do_not_see_the_report(llamadas_conocidas):
    cliente = _supervisor(llamadas_conocidas, supervisor=False)
    assert cliente.get("/agent/informe").status_code == 404
    assert cliente.get("/agent/informe.csv").status_code == 404
    assert 'id="enlace-informe"' not in cliente.get("/agent/").get_data(as_text=True)


def test_nobody_logged_in_is_sent_to_the_login(llamadas_conocidas):
    respuesta = llamadas_conocidas.test_client().get("/agent/informe")
    assert respuesta.status_code in (302, 401)


def test_bad_dates_show_the_default_range_with_a_word(llamadas_conocidas):
    cliente = _supervisor(llamadas_conocidas)
    html = cliente.get("/agent/informe?desde=ayer&hasta=2026-13-01").get_data(as_text=True)
    assert "Fechas no válidas (use AAAA-MM-DD)" in html
    assert "Del 18/11/2026 al 24/11/2026" in html  # the last 7 days up to AHORA


def test_ivr_informe_prints_the_same_figures(llamadas_conocidas):
    runner = llamadas_conocidas.test_cli_runner()
    texto = runner.invoke(main, ["informe", "--desde", DIA, "--hasta", DIA])
    assert texto.exit_code == 0, texto.output
    assert "2026-11-24         4     3              2            2            1           1" \
        "      33.3 %" in texto.output
    assert "Contención: 33.3 % (1 canceladas sin agente de 3 que llegaron a la CURP)" in \
        texto.output
    assert "Duración: mediana 90 s, p90 300 s (4 llamadas con duración)" in texto.output
    como_csv = runner.invoke(main, ["informe", "--desde", DIA, "--hasta", DIA, "--csv"])
    assert como_csv.output == CSV.replace("\r\n", "\n")  # the runner reads text lines
    al_reves = runner.invoke(main, ["informe", "--desde", "2026-11-25", "--hasta", DIA])
    assert al_reves.exit_code == 2 and "posterior" in al_reves.output
    por_omision = runner.invoke(main, ["informe"])  # the last 7 days up to AHORA
    assert por_omision.output.startswith("Informe del 2026-11-18 al 2026-11-24")


def test_create_agent_supervisor_gives_the_role(app):
    from ivr import db, repo_agentes

    _supervisor(app)
    with app.app_context():
        assert repo_agentes.agente_por_usuario(db.sesion(), "rosa").supervisor is True


def test_percentil_is_nearest_rank():
    assert informe.percentil([], 90) is None
    assert informe.percentil([5], 90) == 5
    assert informe.percentil(list(range(1, 11)), 90) == 9
    assert informe.percentil(list(range(1, 12)), 90) == 10
