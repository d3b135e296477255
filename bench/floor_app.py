"""The floor: a bare Flask app under orqo's gunicorn settings that reads the body and answers 200."""
from flask import Flask
from flask import request

app = Flask(__name__)


@app.post("/api/v1/webhooks/<app_id>")
def receive(app_id):
    request.get_data()
    return "", 200
