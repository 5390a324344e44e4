# One image for every part of the platform; the container command picks the part:
#   gateway:  python -m gateway
#   service:  python -m medcode_common.runner codes.service:CodesService
#   loading:  python -m codes.cli load
#   mail:     python -m mail_ingress
# The web app's pinned npm libraries, vendored into web/app/vendor (scripts/vendor-web.sh).
FROM node:20-slim AS web
COPY scripts/vendor-web.sh /src/scripts/vendor-web.sh
COPY web/package.json web/package-lock.json /src/web/
COPY web/app /src/web/app
RUN /src/scripts/vendor-web.sh

FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /app/venv && /app/venv/bin/pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml ./
COPY contracts contracts
COPY libs libs
COPY services services
COPY gateway gateway
COPY mail_ingress mail_ingress
RUN /app/venv/bin/pip install --no-cache-dir --no-deps .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 medcode && mkdir -p /data && chown medcode /data
COPY --from=build /app/venv /app/venv
COPY --from=web /src/web/app /app/web
ENV PATH=/app/venv/bin:$PATH DATA_DIR=/data PYTHONUNBUFFERED=1 GATEWAY_WEB_ROOT=/app/web
USER 10001
EXPOSE 8000
CMD ["python", "-m", "gateway"]
