FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml ./
COPY pipeline/__init__.py pipeline/
RUN pip install --upgrade pip && pip install -e . && rm -rf pipeline
COPY . .
RUN DEBUG=true python manage.py collectstatic --noinput
RUN useradd --create-home --uid 1000 app && mkdir -p /app/var && chown -R app /app/var
USER app
EXPOSE 8000
CMD ["gunicorn", "pipeline.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "120"]
