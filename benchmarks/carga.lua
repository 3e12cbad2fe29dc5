-- wrk script for benchmarks/capacidad.py: one connection per caller (run wrk with as many
-- threads as connections), each replaying its own whole calls step by step from a file the
-- benchmark wrote (path, form body, Twilio signature, what the answer must contain, whether the
-- step ends a cancellation). wrk sends a connection's next request only after the answer to
-- the previous one, so each call's order is kept as Twilio keeps it.
--
--   wrk -t50 -c50 -d15s --timeout 15s -s carga.lua http://127.0.0.1:PORT -- DIR ciclico|unico
--
-- DIR holds 1.tsv .. N.tsv; "ciclico" starts a caller's list again when it ends (the floor keeps
-- no agenda), "unico" stops the caller and counts it as run dry (the report then says so).

local hilos = {}
local siguiente_id = 0

function setup(thread)
  siguiente_id = siguiente_id + 1
  thread:set("id", siguiente_id)
  table.insert(hilos, thread)
end

function init(args)
  local dir, modo = args[1], args[2]
  ciclico = modo == "ciclico"
  pedidos = {}
  for linea in io.lines(dir .. "/" .. id .. ".tsv") do
    local ruta, cuerpo, firma, marca, fin =
      linea:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
    local cabeceras = {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Twilio-Signature"] = firma,
    }
    pedidos[#pedidos + 1] = {wrk.format("POST", ruta, cabeceras, cuerpo), marca, fin == "1"}
  end
  actual = 0
  -- wrk calls request() once on the first thread to check the script, and sends nothing: a
  -- caller moves to its next step only once the previous one was answered.
  respondido = true
  errores = 0
  completas = 0
  agotado = 0
  muestra = ""
end

function request()
  if respondido then
    actual = actual + 1
    if actual > #pedidos then
      actual = 1
    end
    respondido = false
  end
  return pedidos[actual][1]
end

function response(status, headers, body)
  respondido = true
  local p = pedidos[actual]
  if status ~= 200 or not body:find(p[2], 1, true) then
    errores = errores + 1
    if muestra == "" then
      muestra = "llamante " .. id .. ", paso " .. actual .. ": " .. status .. ", se esperaba "
        .. p[2] .. ": " .. body:sub(1, 600):gsub("[\t\n]", " ")
    end
  elseif p[3] then
    completas = completas + 1
  end
  if actual == #pedidos and not ciclico then
    agotado = 1
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local errores_total, completas_total, agotados, muestra_total = 0, 0, 0, ""
  for _, hilo in ipairs(hilos) do
    errores_total = errores_total + hilo:get("errores")
    completas_total = completas_total + hilo:get("completas")
    agotados = agotados + hilo:get("agotado")
    if muestra_total == "" then
      muestra_total = hilo:get("muestra")
    end
  end
  local e = summary.errors
  io.write(string.format(
    "RESULTADO peticiones=%d duracion_us=%d p50_us=%d p99_us=%d max_us=%d errores=%d "
    .. "completas=%d agotados=%d socket=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, errores_total, completas_total, agotados,
    e.connect + e.read + e.write + e.status + e.timeout))
  if muestra_total ~= "" then
    io.write("MUESTRA " .. muestra_total .. "\n")
  end
end
