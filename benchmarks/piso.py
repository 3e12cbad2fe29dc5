"""The floor of benchmarks/capacidad.py: the least a webhook of this kind can cost.

A bare Flask view, served by the same gunicorn command as the line, that does one Redis GET and
one SET of the call's state and answers a <Gather> built with the twilio library. No signature
check, no flow, no database: what is left is the web stack, one Redis round trip each way and
TwiML. The line is measured against it.
"""

from __future__ import annotations

import json
import os

import redis
from flask import Flask, Response, request
from twilio.twiml.voice_response import VoiceResponse

app = Flask(__name__)
_redis = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)


@app.post("/voice/<nodo>")
def webhook(nodo: str) -> Response:
    """One step: read the call's state, write it back one step further, ask the next question."""
    clave = "piso:" + request.form.get("CallSid", "")
    estado = json.loads(_redis.get(clave) or '{"pasos": 0}')
    estado["pasos"] += 1
    estado["nodo"] = nodo
    _redis.set(clave, json.dumps(estado), ex=3600)
    respuesta = VoiceResponse()
    gather = respuesta.gather(action=f"/voice/{nodo}", method="POST", input="dtmf speech",
                              language="es-MX", timeout=6)
    gather.say("Marque su CURP y al terminar la tecla gato.", language="es-MX")
    return Response(str(respuesta), content_type="text/xml; charset=utf-8")
