"""Prompt catalog: texts by id from audio_prompts/<lang>.yaml, or a recorded file with that id."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

MARCADOR = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
EXTENSIONES_AUDIO = (".mp3", ".wav")


@dataclass(frozen=True)
class Locucion:
    """What to play for one prompt: spoken text, or the file name of a recording."""

    texto: str
    grabacion: str | None = None


class Catalogo:
    """The prompts of one language; placeholders are filled by plain substitution, never eval."""

    def __init__(self, textos: dict[str, str], grabaciones: dict[str, str], idioma: str):
        self.textos = textos
        self.grabaciones = grabaciones
        self.idioma = idioma
        # Each text split once at its placeholders: [text, name, text, name, ..., text].
        self._partes = {pid: MARCADOR.split(texto) for pid, texto in textos.items()}
        # A prompt without placeholders says the same every time (its recording, if any).
        self._fijas = {pid: Locucion(texto, grabaciones.get(pid))
                       for pid, texto in textos.items() if len(self._partes[pid]) == 1}

    @classmethod
    def cargar(cls, carpeta: Path, idioma: str) -> Catalogo:
        """Read `<carpeta>/<idioma>.yaml` and index recordings under `<carpeta>/<idioma>/`."""
        with open(carpeta / f"{idioma}.yaml", encoding="utf-8") as f:
            datos = yaml.safe_load(f) or {}
        textos = {str(k): " ".join(str(v).split()) for k, v in datos.items()}
        grabaciones = {}
        carpeta_audio = carpeta / idioma
        if carpeta_audio.is_dir():
            for archivo in sorted(carpeta_audio.iterdir()):
                if archivo.suffix in EXTENSIONES_AUDIO and archivo.stem in textos:
                    grabaciones[archivo.stem] = archivo.name
        return cls(textos, grabaciones, idioma)

    def ids(self) -> set[str]:
        """Every prompt id in the catalog."""
        return set(self.textos)

    def marcadores(self, pid: str) -> set[str]:
        """The {placeholders} a prompt needs."""
        return set(MARCADOR.findall(self.textos[pid]))

    def locucion(self, pid: str, params: dict | None = None) -> Locucion:
        """The text of a prompt with its params filled in, and its recording if it has one."""
        fija = self._fijas.get(pid)
        if fija is not None:
            return fija
        partes = self._partes[pid]
        params = params or {}
        lleno = partes[:]
        for i in range(1, len(partes), 2):
            nombre = partes[i]
            if nombre not in params:
                raise KeyError(f"al prompt {pid!r} le falta el dato {nombre!r}")
            lleno[i] = str(params[nombre])
        return Locucion("".join(lleno))
