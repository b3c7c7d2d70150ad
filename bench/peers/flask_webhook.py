#!/usr/bin/python3
"""A Plex webhook receiver of the usual kind: the peer for bench/webhook_load.sh.

This is how Plex integrations commonly write one (the Flask examples in
Plex's webhook docs and forum, and the small scrobblers and notifiers built
on them): one Flask route that reads the multipart form field ``payload``,
``json.loads`` it, looks at the event, the account and the Metadata (type,
title, Guid ids) and answers 200. It is served by Flask's own threaded
server (``app.run(threaded=True)``, i.e. werkzeug's development server with a
thread per connection, default request logging on), as those integrations
deploy it; no gunicorn, no reverse proxy.

    /usr/bin/python3 bench/peers/flask_webhook.py PORT

Listens on 127.0.0.1:PORT; POST /webhook takes the webhook; GET /health
answers 200 once the server is up.
"""

import json
import sys

from flask import Flask, request

app = Flask(__name__)

# What a receiver acts on; anything else is acknowledged and ignored.
WATCH_EVENTS = {"media.play", "media.pause", "media.resume", "media.stop", "media.scrobble", "library.new"}
MEDIA_TYPES = {"movie", "episode", "show", "season"}

seen = {"handled": 0, "ignored": 0}


@app.route("/webhook", methods=["POST"])
def webhook():
    payload = json.loads(request.form["payload"])
    event = payload.get("event")
    metadata = payload.get("Metadata") or {}
    media_type = metadata.get("type")
    if event not in WATCH_EVENTS or media_type not in MEDIA_TYPES:
        seen["ignored"] += 1
        return "", 200
    account = (payload.get("Account") or {}).get("title")
    # New-agent items carry their external ids as Guid [{"id": "imdb://tt..."}].
    ids = {}
    for guid in metadata.get("Guid") or []:
        scheme, _, value = guid.get("id", "").partition("://")
        if value:
            ids[scheme] = value
    item = {
        "event": event,
        "account": account,
        "type": media_type,
        "title": metadata.get("grandparentTitle") or metadata.get("title"),
        "season": metadata.get("parentIndex"),
        "episode": metadata.get("index"),
        "year": metadata.get("year"),
        "imdb": ids.get("imdb"),
        "tmdb": ids.get("tmdb"),
        "tvdb": ids.get("tvdb"),
        "rating_key": metadata.get("ratingKey"),
    }
    if item["imdb"] or item["tmdb"] or item["tvdb"] or item["rating_key"]:
        seen["handled"] += 1
    else:
        seen["ignored"] += 1
    return "", 200


@app.route("/health")
def health():
    return "ok", 200


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: flask_webhook.py PORT")
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
