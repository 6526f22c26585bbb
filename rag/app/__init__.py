"""The Gradio chat page: panels, HTML rendering, feedback, sign-in."""
