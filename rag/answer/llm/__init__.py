"""Generative backends: llama.cpp in a supervised child process, OpenAI-compatible servers."""
