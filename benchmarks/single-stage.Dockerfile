# The yardstick of issue 14's "minimal runtime": the demo backend built and run in ONE stage, the way a
# plain Maven + JDK Dockerfile does it (JDK, Maven, ~/.m2 and target/ all stay in the image).
# Not part of any test; re-measure with (from the repository root, legacy builder as the role builds):
#   ctx=$(mktemp -d) && cp -a files/demo-app/backend/. templates/dockerfiles/ImportCa.java "$ctx"/
#   cp /etc/ssl/certs/ca-certificates.crt "$ctx"/extra-ca.pem   # only behind an intercepting proxy
#   docker build -f benchmarks/single-stage.Dockerfile -t bench/backend-single-stage "$ctx"
#   docker image inspect -f '{{.Size}}' bench/backend-single-stage demo-backend:<version>
# Figures: docs/benchmarks.md#backend-image-jlink-runtime.
# Legacy-builder compatible (no BuildKit syntax).
ARG MAVEN_IMAGE=deployer/maven:3.8.7-17
FROM ${MAVEN_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /build
# extra-ca.pe[m]: the glob lets the bundle be absent (ImportCa.java keeps the COPY from matching nothing).
COPY extra-ca.pe[m] ImportCa.java /tmp/extra-ca/
RUN if [ -s /tmp/extra-ca/extra-ca.pem ]; then \
      java /tmp/extra-ca/ImportCa.java /tmp/extra-ca/extra-ca.pem "$(readlink -f "$JAVA_HOME/lib/security/cacerts")"; \
    fi
COPY pom.xml ./
COPY src ./src
RUN mvn -B -DskipTests package
EXPOSE 8080
CMD ["java", "-jar", "target/app.jar"]
