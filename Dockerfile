# The Liveblog web image: daphne serving liveblog.asgi, static files by whitenoise.
# docker-compose.yml builds it for the `migrate` and `web` services; docs/deploy.md.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000

WORKDIR /app
RUN groupadd --system --gid 10001 liveblog \
    && useradd --system --uid 10001 --gid liveblog --home-dir /app --no-create-home liveblog

# Dependencies first, so a code change does not reinstall them (pyproject.toml lists no
# packages of ours: installing the project installs its dependencies only).
COPY pyproject.toml README.md ./
RUN pip install .

COPY . .
# Hashed, pre-compressed static files for whitenoise. The settings need a key to import;
# this one exists only during this build step and is in no layer's environment.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-not-a-secret ALLOWED_HOSTS=build \
    python manage.py collectstatic --noinput

# Photos' renditions (MEDIA_ROOT in docker-compose.yml): a volume mounted here starts
# with this folder's owner, so the workers can write to it.
RUN mkdir -p /srv/media && chown liveblog:liveblog /srv/media

USER liveblog
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "liveblog.health"]
# --proxy-headers: client addresses from X-Forwarded-For, set by the proxy (the only way in).
CMD ["sh", "-c", "exec python -m liveblog.server --bind 0.0.0.0 --port \"$PORT\" --proxy-headers"]
