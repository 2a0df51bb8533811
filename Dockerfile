FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml ./
COPY pipeline/__init__.py pipeline/
RUN pip install --upgrade pip && pip install -e . && rm -rf pipeline
COPY . .
# Build the hashed, compressed static files with the production storage so its manifest exists;
# the key and site address only let settings load at build time and are never used at run time.
RUN DEBUG=false SITE_URL=http://build.invalid \
    SECRET_KEY="build-only-$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
    deploy/run collectstatic
RUN useradd --create-home --uid 1000 app && mkdir -p /app/var && chown -R app /app/var
USER app
EXPOSE 8000
# One image, every role: deploy/run web|worker|beat|simulator|migrate (see docker-compose.yml).
CMD ["deploy/run", "web"]
