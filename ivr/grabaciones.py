"""Recorded prompts for <Play>: only the catalog's recordings, nothing else on the disk."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, current_app, send_from_directory

from ivr import linea

bp = Blueprint("grabaciones", __name__)


def init_app(app) -> None:
    """Register the recordings' route."""
    app.register_blueprint(bp)


@bp.get("/audio/<idioma>/<archivo>")
def audio(idioma: str, archivo: str) -> Response:
    """A recording the line plays (public content: Twilio fetches it without a signature).

    Served only when it is one the catalog indexed at start-up: a file with an audio
    extension in `audio_prompts/<idioma>/` of the line's language. Any other name, however
    it is spelled or encoded, is a 404, never a path on the disk."""
    catalogo = linea.actual().catalogo
    if idioma != catalogo.idioma or archivo not in catalogo.grabaciones.values():
        abort(404)
    return send_from_directory(Path(current_app.config["PROMPTS_DIR"]) / idioma, archivo)
