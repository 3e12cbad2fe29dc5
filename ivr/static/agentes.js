// The agents' list refreshes itself: poll the JSON list, redraw the rows the server drew, and
// announce new arrivals (row highlighted, page title, an optional sound).
(function () {
  "use strict";
  var tabla = document.getElementById("transferencias");
  if (!tabla) { return; }
  var url = tabla.dataset.url;
  var cada = parseInt(tabla.dataset.cada, 10) || 5000;
  var estado = document.getElementById("estado-lista");
  var aviso = document.getElementById("nueva-llegada");
  var casilla = document.getElementById("sonido");
  var titulo = "Transferencias · Línea ASISSSTE";
  var vistas = {};
  var pendientes = 0;
  var sinVer = 0;  // arrivals the agent hasn't looked at yet (title and notice)
  var audio = null;

  function ids(cuerpo) {
    var encontrados = {};
    Array.prototype.forEach.call(cuerpo.rows, function (fila) {
      if (fila.dataset.id) { encontrados[fila.dataset.id] = true; }
    });
    return encontrados;
  }

  function ponerTitulo() {
    document.title = (sinVer ? "¡Nueva! " : "") + (pendientes ? "(" + pendientes + ") " : "") +
      titulo;
  }

  function visto() {
    if (!sinVer) { return; }
    sinVer = 0;
    aviso.hidden = true;
    ponerTitulo();
  }

  // The sound is the agent's choice, remembered by this browser; browsers allow audio only
  // after a click, which ticking the box is.
  function sonar() {
    if (!casilla || !casilla.checked || !audio) { return; }
    var tono = audio.createOscillator();
    var volumen = audio.createGain();
    tono.frequency.value = 880;
    volumen.gain.setValueAtTime(0.2, audio.currentTime);
    volumen.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    tono.connect(volumen).connect(audio.destination);
    tono.start();
    tono.stop(audio.currentTime + 0.6);
    tabla.dataset.sonidos = (parseInt(tabla.dataset.sonidos, 10) || 0) + 1;
  }

  if (casilla) {
    casilla.parentNode.hidden = false;
    casilla.checked = window.localStorage.getItem("ivr-sonido") === "si";
    casilla.addEventListener("change", function () {
      window.localStorage.setItem("ivr-sonido", casilla.checked ? "si" : "no");
      if (casilla.checked && !audio && window.AudioContext) { audio = new window.AudioContext(); }
    });
  }

  // The header's count of callers waiting for a call back.
  function contarDevoluciones(cuantas) {
    var enlace = document.getElementById("enlace-devoluciones");
    if (!enlace) { return; }
    var cuenta = enlace.querySelector(".cuenta");
    if (!cuantas) {
      if (cuenta) { cuenta.remove(); }
      return;
    }
    if (!cuenta) {
      cuenta = document.createElement("span");
      cuenta.className = "cuenta";
      enlace.appendChild(document.createTextNode(" "));
      enlace.appendChild(cuenta);
    }
    cuenta.textContent = cuantas;
  }

  function dibujar(datos) {
    var cuerpo = document.createElement("tbody");
    cuerpo.innerHTML = datos.filas;  // rows drawn (and escaped) by the server's template
    var nuevas = [];
    Array.prototype.forEach.call(cuerpo.rows, function (fila) {
      if (fila.dataset.id && !vistas[fila.dataset.id]) {
        fila.classList.add("nueva");
        nuevas.push(fila.dataset.id);
      }
    });
    tabla.replaceChild(cuerpo, tabla.tBodies[0]);
    Array.prototype.forEach.call(cuerpo.rows, function (fila) {
      if (fila.dataset.id) { vistas[fila.dataset.id] = true; }
    });
    contarDevoluciones(datos.devoluciones);
    pendientes = datos.pendientes;
    document.getElementById("pendientes").textContent = pendientes;
    if (nuevas.length) {
      sinVer += nuevas.length;
      aviso.textContent = sinVer === 1 ? "Llegó una transferencia nueva: la " + nuevas[0] + "."
        : "Llegaron " + sinVer + " transferencias nuevas.";
      aviso.hidden = false;
      sonar();
    }
    ponerTitulo();
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

  ["pointerdown", "keydown"].forEach(function (evento) {
    document.addEventListener(evento, visto);
  });
  vistas = ids(tabla.tBodies[0]);
  pendientes = parseInt(document.getElementById("pendientes").textContent, 10) || 0;
  window.setTimeout(consultar, cada);
})();
