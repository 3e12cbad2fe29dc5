"""Local HTTP servers the outbox delivers to in tests: the Sistema de Citas' receiver and a fake
Twilio REST API. Loopback, an ephemeral port, scripted answers, every request recorded."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Peticion:
    """One request as the server saw it."""

    metodo: str
    ruta: str
    cabeceras: dict[str, str]
    cuerpo: bytes


class _Servidor(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class ServidorDePrueba:
    """A threaded HTTP server on 127.0.0.1 answering from a script: each request takes the next
    scripted answer (an HTTP status; "colgar": hold the connection, never answer; (seconds,
    status): process it, then answer that late), and the last one repeats. `apagar()` and
    `encender()` take it down and back on the same port."""

    def __init__(self, guion=(200,), espera_colgado: float = 30.0):
        self.guion = list(guion)
        self.espera_colgado = espera_colgado
        self.peticiones: list[Peticion] = []
        self.cerrojo = threading.Lock()
        self.liberar = threading.Event()  # ends every "colgar" at once
        self.puerto = 0
        self._servidor: _Servidor | None = None
        self.encender()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.puerto}"

    def encender(self) -> None:
        servidor = _Servidor(("127.0.0.1", self.puerto), self._manejador())
        self.puerto = servidor.server_address[1]
        self._servidor = servidor
        threading.Thread(target=servidor.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def apagar(self) -> None:
        if self._servidor is not None:
            self.liberar.set()
            self._servidor.shutdown()
            self._servidor.server_close()
            self._servidor = None
            self.liberar = threading.Event()

    def siguiente(self):
        with self.cerrojo:
            return self.guion.pop(0) if len(self.guion) > 1 else self.guion[0]

    def responder(self, peticion: Peticion, estado: int) -> tuple[int, bytes, str]:
        """The body of a scripted status (subclasses answer like their real counterpart)."""
        return estado, b"", "text/plain"

    def _manejador(self):
        prueba = self

        class Manejador(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the name http.server calls
                largo = int(self.headers.get("Content-Length") or 0)
                peticion = Peticion("POST", self.path, dict(self.headers.items()),
                                    self.rfile.read(largo))
                with prueba.cerrojo:
                    prueba.peticiones.append(peticion)
                accion = prueba.siguiente()
                if accion == "colgar":
                    prueba.liberar.wait(prueba.espera_colgado)
                    self.close_connection = True
                    return
                demora = 0.0
                if isinstance(accion, tuple):  # (seconds, status): processed, answered late
                    demora, accion = accion
                estado, cuerpo, tipo = prueba.responder(peticion, accion)
                if demora:
                    prueba.liberar.wait(demora)
                try:
                    self.send_response(estado)
                    self.send_header("Content-Type", tipo)
                    self.send_header("Content-Length", str(len(cuerpo)))
                    self.end_headers()
                    self.wfile.write(cuerpo)
                except OSError:  # the client gave up waiting: as on a real network
                    self.close_connection = True

            def log_message(self, *args):  # keep pytest's output clean
                pass

        return Manejador

    def cerrar(self) -> None:
        self.apagar()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cerrar()


class SistemaDeCitas(ServidorDePrueba):
    """The institute's receiver: checks the signature and processes each Idempotency-Key once
    (what a receiver honouring the contract does)."""

    def __init__(self, secreto: str, guion=(200,), **kw):
        self.secreto = secreto.encode()
        self.procesados: list[dict] = []
        self._claves: set[str] = set()
        super().__init__(guion, **kw)

    def responder(self, peticion: Peticion, estado: int):
        esperada = "sha256=" + hmac.new(self.secreto, peticion.cuerpo, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(esperada, peticion.cabeceras.get("X-IVR-Firma", "")):
            return 401, b"firma", "text/plain"
        if 200 <= estado < 300:
            clave = peticion.cabeceras["Idempotency-Key"]
            with self.cerrojo:
                if clave not in self._claves:
                    self._claves.add(clave)
                    self.procesados.append(json.loads(peticion.cuerpo))
        return estado, b"", "text/plain"


class TwilioFalso(ServidorDePrueba):
    """Twilio's REST API for sending SMS: records POST /2010-04-01/Accounts/{sid}/Messages.json
    (HTTP Basic auth with the account's SID and token), answers 201 with a message resource,
    or the scripted error (429, 500) with Twilio's error body."""

    def __init__(self, sid: str, token: str, guion=(201,), **kw):
        self.sid, self.token = sid, token
        super().__init__(guion, **kw)

    def mensajes(self) -> list[dict[str, str]]:
        """The form of every Messages.json POST (accepted or not), in order."""
        ruta = f"/2010-04-01/Accounts/{self.sid}/Messages.json"
        return [{k: v[0] for k, v in parse_qs(p.cuerpo.decode()).items()}
                for p in self.peticiones if p.ruta == ruta]

    def responder(self, peticion: Peticion, estado: int):
        credencial = base64.b64encode(f"{self.sid}:{self.token}".encode()).decode()
        if peticion.cabeceras.get("Authorization") != f"Basic {credencial}":
            estado = 401
        if peticion.ruta != f"/2010-04-01/Accounts/{self.sid}/Messages.json":
            estado = 404
        if estado == 201:
            forma = {k: v[0] for k, v in parse_qs(peticion.cuerpo.decode()).items()}
            cuerpo = {"sid": "SM" + hashlib.md5(peticion.cuerpo).hexdigest(),
                      "account_sid": self.sid, "to": forma.get("To"), "from": forma.get("From"),
                      "messaging_service_sid": forma.get("MessagingServiceSid"),
                      "body": forma.get("Body"), "status": "queued", "num_segments": "1",
                      "direction": "outbound-api", "api_version": "2010-04-01",
                      "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000",
                                                    time.gmtime())}
        else:
            cuerpo = {"code": 20429 if estado == 429 else 20500,
                      "message": "Too Many Requests" if estado == 429 else "Internal error",
                      "more_info": "https://www.twilio.com/docs/errors", "status": estado}
        return estado, json.dumps(cuerpo).encode(), "application/json"
