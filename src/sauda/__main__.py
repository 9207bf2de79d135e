from sauda.cli import app

app()
