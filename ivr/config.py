"""Configuration from the environment (SPEC §6), checked once at start-up."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

RAIZ = Path(__file__).resolve().parent.parent
E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def desde_entorno(environ=os.environ) -> dict:
    """The app config read from environment variables, with a newcomer's defaults."""
    return {
        "DATABASE_URL": environ.get("DATABASE_URL") or None,
        "REDIS_URL": environ.get("REDIS_URL") or None,
        "REDIS_MODE": environ.get("REDIS_MODE") or None,
        "PGBOUNCER": (environ.get("PGBOUNCER") or "").lower() in ("1", "true", "yes", "si", "sí"),
        "DATABASE_POOL_SIZE": int(environ.get("DATABASE_POOL_SIZE") or 5),
        "DATABASE_MAX_OVERFLOW": int(environ.get("DATABASE_MAX_OVERFLOW") or 10),
        "TWILIO_AUTH_TOKEN": environ.get("TWILIO_AUTH_TOKEN") or None,
        "PUBLIC_BASE_URL": (environ.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
        "AGENT_DIAL": environ.get("AGENT_DIAL") or None,
        "AGENT_HOURS": environ.get("AGENT_HOURS") or None,
        "TWILIO_WORKFLOW_SID": environ.get("TWILIO_WORKFLOW_SID") or None,
        "HOLD_MUSIC_URL": environ.get("HOLD_MUSIC_URL") or None,
        "STATE_TTL_SECONDS": int(environ.get("STATE_TTL_SECONDS") or 3600),
        "FLOW_FILE": environ.get("FLOW_FILE") or str(RAIZ / "flows" / "cancelacion.yaml"),
        "PROMPTS_DIR": environ.get("PROMPTS_DIR") or str(RAIZ / "audio_prompts"),
        "SECRET_KEY": environ.get("SECRET_KEY") or None,
        # Proxies in front of the app that append the client to X-Forwarded-For (a platform's
        # router: 1). 0: the connecting address is the client's.
        "PROXY_HOPS": int(environ.get("PROXY_HOPS") or 0),
        "METRICS_TOKEN": environ.get("METRICS_TOKEN") or None,
        "LOG_FORMAT": environ.get("LOG_FORMAT") or "text",
        "SISTEMA_CITAS_WEBHOOK_URL": environ.get("SISTEMA_CITAS_WEBHOOK_URL") or None,
        "SISTEMA_CITAS_WEBHOOK_SECRET": environ.get("SISTEMA_CITAS_WEBHOOK_SECRET") or None,
        "TWILIO_ACCOUNT_SID": environ.get("TWILIO_ACCOUNT_SID") or None,
        "TWILIO_SMS_FROM": environ.get("TWILIO_SMS_FROM") or None,
        "TWILIO_MESSAGING_SERVICE_SID": environ.get("TWILIO_MESSAGING_SERVICE_SID") or None,
        "TWILIO_API_URL": (environ.get("TWILIO_API_URL") or "").rstrip("/") or None,
        "RELOJ": lambda: datetime.now(UTC),
    }


def revisar(config: dict) -> list[str]:
    """Problems in the config that must stop the start-up, in words an operator can act on."""
    problemas = []
    destino = config.get("AGENT_DIAL")
    if destino and not (E164.match(destino) or destino.startswith("sip:")):
        problemas.append(
            f"AGENT_DIAL debe ser un número E.164 (+52...) o un URI sip:, no {destino!r}")
    workflow = config.get("TWILIO_WORKFLOW_SID")
    if workflow and not re.match(r"^WW[0-9a-f]{32}$", workflow):
        problemas.append(
            f"TWILIO_WORKFLOW_SID debe ser WW seguido de 32 hexadecimales ({workflow!r})")
    url = config.get("PUBLIC_BASE_URL")
    if url and not re.match(r"^https?://[^/]+", url):
        problemas.append(f"PUBLIC_BASE_URL debe empezar con https:// (es {url!r})")
    modo = config.get("REDIS_MODE")
    if modo not in (None, "single", "cluster"):
        problemas.append(f"REDIS_MODE debe ser cluster o single (o no estar definido), no {modo!r}")
    elif modo == "cluster" and not config.get("REDIS_URL"):
        problemas.append("REDIS_MODE=cluster necesita REDIS_URL: redis://host:puerto de un nodo")
    elif modo == "cluster" and urlsplit(config["REDIS_URL"]).path.strip("/") not in ("", "0"):
        problemas.append("REDIS_MODE=cluster: un Redis Cluster solo tiene la base 0; quite el "
                         "número de base de REDIS_URL")
    webhook = config.get("SISTEMA_CITAS_WEBHOOK_URL")
    if webhook and not re.match(r"^https?://[^/]+", webhook):
        problemas.append(f"SISTEMA_CITAS_WEBHOOK_URL debe empezar con https:// (es {webhook!r})")
    if webhook and not config.get("SISTEMA_CITAS_WEBHOOK_SECRET"):
        problemas.append("SISTEMA_CITAS_WEBHOOK_SECRET es obligatoria con "
                         "SISTEMA_CITAS_WEBHOOK_URL: el Sistema de Citas comprueba la firma")
    problemas += _revisar_sms(config)
    if int(config.get("STATE_TTL_SECONDS", 0)) < 60:
        problemas.append("STATE_TTL_SECONDS debe ser de al menos 60 segundos")
    if config.get("LOG_FORMAT") not in (None, "text", "json"):
        problemas.append(f"LOG_FORMAT debe ser text o json (es {config.get('LOG_FORMAT')!r})")
    if config.get("TWILIO_AUTH_TOKEN") and not config.get("REDIS_URL") and not _en_proceso(config):
        # Seen in a deployment: the Procfile's 2 workers each kept their own callers' state,
        # and callers heard "perdimos el avance", then the wrong menus.
        problemas.append("falta REDIS_URL: con TWILIO_AUTH_TOKEN (producción) el estado de las "
                         "llamadas debe vivir en Redis, compartido por todos los procesos web; "
                         "defina REDIS_URL=redis://…")
    return problemas


def _en_proceso(config) -> bool:
    """Whether the app lives inside this one process only (a test, a command, `ivr call`), so
    that its in-process store is every call's whole state."""
    return bool(config.get("TESTING") or config.get("IN_PROCESS"))


def avisos(config) -> list[str]:
    """What an operator must hear at start-up although the app can run."""
    if not config.get("TWILIO_AUTH_TOKEN") and not _en_proceso(config):
        return ["TWILIO_AUTH_TOKEN no está definido: todos los webhooks de Twilio serán "
                "rechazados (403); defínalo con el Auth Token de la cuenta"]
    return []


def _revisar_sms(config: dict) -> list[str]:
    """The SMS settings, when any is given: each well-formed, and none without the account."""
    problemas = []
    sid = config.get("TWILIO_ACCOUNT_SID")
    if sid and not re.match(r"^AC[0-9a-f]{32}$", sid):
        problemas.append(f"TWILIO_ACCOUNT_SID debe ser AC seguido de 32 hexadecimales ({sid!r})")
    desde = config.get("TWILIO_SMS_FROM")
    if desde and not E164.match(desde):
        problemas.append(f"TWILIO_SMS_FROM debe ser un número E.164 (+52...), no {desde!r}")
    servicio = config.get("TWILIO_MESSAGING_SERVICE_SID")
    if servicio and not re.match(r"^MG[0-9a-f]{32}$", servicio):
        problemas.append("TWILIO_MESSAGING_SERVICE_SID debe ser MG seguido de 32 hexadecimales "
                         f"({servicio!r})")
    if (desde or servicio) and not sid:
        problemas.append("TWILIO_SMS_FROM o TWILIO_MESSAGING_SERVICE_SID necesitan "
                         "TWILIO_ACCOUNT_SID para enviar los SMS")
    api = config.get("TWILIO_API_URL")
    if api and not re.match(r"^https?://[^/]+", api):
        problemas.append(f"TWILIO_API_URL debe empezar con https:// (es {api!r})")
    return problemas
