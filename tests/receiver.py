"""A real agent-runtime receiver for tests: verifies each push with the public standardwebhooks
library and answers according to the message text: ``[fail3]`` fails three times then
succeeds, ``[failall]`` always fails, anything else succeeds. Appends what it saw to a JSONL
file. Usage: python receiver.py PORT SECRET LOGFILE
"""
import json
import sys
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

PORT, SECRET, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
failures = {}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            payload = Webhook(SECRET).verify(body, dict(self.headers))
            verified = True
        except Exception:
            payload, verified = json.loads(body), False
        msg_id = self.headers.get("webhook-id")
        text = payload["message"]["text"]
        seen = failures.get(msg_id, 0)
        if "[failall]" in text or ("[fail3]" in text and seen < 3):
            failures[msg_id] = seen + 1
            status = 500
        else:
            status = 200
        with open(LOG, "a") as log:
            log.write(json.dumps({"id": msg_id, "verified": verified, "status": status,
                                  "payload": payload}) + "\n")
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
