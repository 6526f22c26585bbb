"""Stage 5, answer: passages -> a short answer whose every claim cites a verified passage (extractive answerer, LLM backends, verification, follow-ups)."""
