"""The line's configuration loaded once at start-up: flow, prompt catalog, agent hours, renderer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app

from ivr import acciones, flows
from ivr.domain import horario as horarios
from ivr.flows import Flujo
from ivr.prompts import Catalogo
from ivr.transferencia import Agentes
from ivr.twiml import Render


@dataclass(frozen=True)
class Linea:
    """Everything a webhook needs that doesn't change while the process runs."""

    flujo: Flujo
    catalogo: Catalogo
    horario: horarios.Horario
    render: Render
    agent_dial: str | None
    workflow_sid: str | None = None

    def agentes(self, ahora: datetime) -> Agentes:
        """Whether a transfer can reach an agent now, and the hours to say if not."""
        return Agentes(destino=self.agent_dial, abierto=horarios.abierto(self.horario, ahora),
                       horario=horarios.describir(self.horario), workflow_sid=self.workflow_sid)


def cargar(config) -> Linea:
    """Load and validate the flow and the catalog; any problem stops the start-up."""
    ruta = Path(config["FLOW_FILE"])
    flujo, problemas = flows.leer(ruta)
    catalogo = Catalogo.cargar(Path(config["PROMPTS_DIR"]), flujo.idioma)
    problemas += flows.validar(flujo, catalogo.ids(), acciones.salidas_registradas())
    if problemas:
        raise flows.FlujoInvalido([f"{ruta.name}: {p}" for p in problemas])
    texto_horario = config.get("AGENT_HOURS") or flujo.horario_agentes
    try:
        horario = horarios.parse_horario(texto_horario)
    except ValueError as e:
        raise RuntimeError(
            f"AGENT_HOURS / horario_agentes inválido ({texto_horario!r}): {e}") from e
    render = Render(catalogo, flujo, config.get("PUBLIC_BASE_URL") or "",
                    config.get("AGENT_DIAL"), config.get("TWILIO_WORKFLOW_SID"))
    return Linea(flujo, catalogo, horario, render, config.get("AGENT_DIAL"),
                 config.get("TWILIO_WORKFLOW_SID"))


def init_app(app) -> None:
    """Load the line into the app (fails fast on a bad flow, catalog or hours)."""
    app.extensions["ivr_linea"] = cargar(app.config)


def actual() -> Linea:
    """The line of the current app."""
    # One lookup (werkzeug's API): an attribute read through the proxy costs ten times as
    # much, and a webhook asks for its line several times.
    return current_app._get_current_object().extensions["ivr_linea"]  # noqa: SLF001
