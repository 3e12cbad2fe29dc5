"""Spanish labels for transfer reasons and call steps, as agents read and hear them."""

RAZONES = {
    "pidio_agente": "El cliente pidió un agente",
    "reintentos_agotados": "No logró responder después de tres intentos",
    "identificacion_fallida": "No se pudo identificar después de tres intentos",
    "identidad_ambigua": "Su CURP y apellido coinciden con más de una persona",
    "no_cancelable": "La cita ya no se podía cancelar",
    "error_interno": "Hubo un error del sistema",
    "afiliacion": "Pidió el área de afiliación",
    "prestamos": "Pidió el área de préstamos",
    "citas": "Pidió consultar o cambiar una cita",
}

NODOS = {
    "menu_principal": "menú principal",
    "menu_prestamos": "menú de préstamos",
    "menu_citas": "menú de citas",
    "curp": "captura de CURP o RFC",
    "apellido": "captura del apellido",
    "citas": "lista de citas",
    "cita": "lectura de la cita",
    "solicitante": "quién solicita",
    "nombre_solicitante": "nombre de quien solicita",
    "motivo": "motivo",
    "confirmacion": "confirmación",
    "sin_cita": "sin citas por cancelar",
    "cancelada": "folio de la cancelación",
    "agente": "comunicación con un agente",
    "reintento": "reintento de comunicación con un agente",
    "devolucion_oferta": "oferta de devolución de llamada",
    "devolucion": "confirmación del número para devolver la llamada",
    # Webhooks that are not nodes, where an internal error may transfer the call.
    "incoming": "inicio de la llamada",
    "fallback": "falla de la plataforma",
}


# How the line's attempt to reach an agent ended (Dial/Enqueue status), when it did not.
CONEXION = {
    "fuera_de_horario": "Fuera de horario: no se le comunicó",
    "sin_destino": "Sin agentes configurados: no se le comunicó",
    "no-answer": "Ningún agente contestó",
    "busy": "Línea de agentes ocupada",
    "failed": "Falló la llamada a los agentes",
    "canceled": "Colgó antes de que contestaran",
    "queue-full": "Fila de espera llena",
    "error": "Error al ponerlo en la fila",
    "leave": "Salió de la fila",
    "hangup": "Colgó mientras esperaba",
    "redirected": "Se redirigió fuera de la fila",
    "system-error": "Error de la plataforma en la fila",
}


# Every state of the attempt to reach an agent, for the detail page (CONEXION covers the
# ones where the caller did not reach one).
ENLACE = {
    **CONEXION,
    "queued": "En espera de marcar al agente",
    "initiated": "Marcando al agente",
    "ringing": "Sonando con el agente",
    "in-progress": "En línea con un agente",
    "answered": "En línea con un agente",
    "completed": "Habló con un agente",
    "bridged": "Habló con un agente",
}


def enlace(dial_status: str | None) -> str:
    """A dial, queue or agent-leg status in Spanish (the code itself when it has none)."""
    return ENLACE.get(dial_status or "", dial_status or "")


def conexion(dial_status: str | None) -> str:
    """Why the caller did not reach an agent ("" when they did, or it is still ringing)."""
    return CONEXION.get(dial_status or "", "")


def razon(codigo: str | None) -> str:
    """The label of a transfer reason (the code itself when it has none)."""
    return RAZONES.get(codigo or "", codigo or "sin motivo")


def nodo(codigo: str | None) -> str:
    """The label of a call step (the node id itself when it has none)."""
    return NODOS.get(codigo or "", codigo or "inicio")
