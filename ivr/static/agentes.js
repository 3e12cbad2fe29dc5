// The agents' list refreshes itself: poll the JSON list and redraw the table body.
(function () {
  "use strict";
  var tabla = document.getElementById("transferencias");
  if (!tabla) { return; }
  var url = tabla.dataset.url;
  var cada = parseInt(tabla.dataset.cada, 10) || 5000;
  var estado = document.getElementById("estado-lista");
  var vistas = null;

  function celda(fila, texto, enlace, detalle) {
    var td = document.createElement("td");
    var nodo = td;
    if (enlace) {
      nodo = document.createElement("a");
      nodo.href = enlace;
      td.appendChild(nodo);
    }
    nodo.textContent = texto;
    if (detalle) {
      var small = document.createElement("small");
      small.textContent = detalle;
      td.appendChild(small);
    }
    fila.appendChild(td);
    return td;
  }

  function dibujar(datos) {
    var cuerpo = document.createElement("tbody");
    var nuevas = {};
    datos.transferencias.forEach(function (t) {
      var fila = document.createElement("tr");
      fila.className = t.atendida ? "atendida" : "pendiente";
      if (vistas !== null && !vistas[t.id]) { fila.className += " nueva"; }
      fila.dataset.id = t.id;
      nuevas[t.id] = true;
      celda(fila, t.hora, t.url, t.fecha);
      celda(fila, t.razon, t.url);
      celda(fila, t.identificado ? "Sí" : "No");
      celda(fila, t.nodo);
      var td = celda(fila, "");
      if (t.atendida) {
        td.textContent = "Atendida" + (t.atendida_por ? " por " + t.atendida_por : "");
      } else {
        var fuerte = document.createElement("strong");
        fuerte.textContent = "Pendiente";
        td.appendChild(fuerte);
      }
      if (t.conexion) {
        var nota = document.createElement("small");
        nota.textContent = t.conexion;
        td.appendChild(nota);
      }
      cuerpo.appendChild(fila);
    });
    if (!datos.transferencias.length) {
      var vacia = document.createElement("tr");
      vacia.className = "vacia";
      celda(vacia, "Todavía no hay transferencias.").colSpan = 5;
      cuerpo.appendChild(vacia);
    }
    tabla.replaceChild(cuerpo, tabla.tBodies[0]);
    vistas = nuevas;
    document.getElementById("pendientes").textContent = datos.pendientes;
    document.title = (datos.pendientes ? "(" + datos.pendientes + ") " : "") +
      "Transferencias · Línea ASISSSTE";
    estado.classList.remove("sin-conexion");
  }

  function consultar() {
    fetch(url, {credentials: "same-origin", cache: "no-store", headers: {"Accept": "application/json"}})
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); throw new Error("sesión"); }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(dibujar)
      .catch(function () { estado.classList.add("sin-conexion"); })
      .then(function () { window.setTimeout(consultar, cada); });
  }

  vistas = {};
  Array.prototype.forEach.call(tabla.tBodies[0].rows, function (fila) {
    if (fila.dataset.id) { vistas[fila.dataset.id] = true; }
  });
  window.setTimeout(consultar, cada);
})();
