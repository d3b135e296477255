from orqo import create_app

app = create_app()
