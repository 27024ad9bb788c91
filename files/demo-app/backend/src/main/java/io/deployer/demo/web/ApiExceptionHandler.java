package io.deployer.demo.web;

import io.deployer.demo.items.ItemNotFoundException;
import java.net.URI;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.TypeMismatchException;
import org.springframework.dao.DataAccessException;
import org.springframework.dao.DataAccessResourceFailureException;
import org.springframework.dao.TransientDataAccessException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.ErrorResponseException;
import org.springframework.web.bind.MethodArgumentNotValidException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.ServletWebRequest;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;
import tools.jackson.core.JacksonException;
import tools.jackson.core.exc.StreamReadException;

/**
 * Every error as an RFC 9457 problem ({@code application/problem+json}): type, title, status,
 * detail, instance (the request path), plus {@code message} (= detail, which the SPA shows) and,
 * for validation, {@code errors}. Never a stack trace or an exception class: those go to the log.
 *
 * <p>The base class turns Spring MVC's own exceptions into problems (405 with {@code Allow}, 415,
 * 404 for unknown paths, ...); this class words the common client errors clearly and adds the
 * application's ones.
 */
@RestControllerAdvice
public class ApiExceptionHandler extends ResponseEntityExceptionHandler {
    private static final Logger LOG = LoggerFactory.getLogger(ApiExceptionHandler.class);

    @ExceptionHandler(ItemNotFoundException.class)
    ResponseEntity<Object> notFound(ItemNotFoundException e, WebRequest request) {
        return problem(e, HttpStatus.NOT_FOUND, e.getMessage(), request);
    }

    /** Lost or refused database connections are worth a retry: 503, as the first API answered. */
    @ExceptionHandler({DataAccessResourceFailureException.class, TransientDataAccessException.class})
    ResponseEntity<Object> databaseUnavailable(DataAccessException e, WebRequest request) {
        LOG.warn("database unavailable: {}", e.getMessage());
        return problem(e, HttpStatus.SERVICE_UNAVAILABLE, "the database is unavailable, try again", request);
    }

    /** Anything else is a bug: logged in full, answered without internals. */
    @ExceptionHandler(Exception.class)
    ResponseEntity<Object> unexpected(Exception e, WebRequest request) {
        LOG.error("request {} failed", describe(request), e);
        return problem(e, HttpStatus.INTERNAL_SERVER_ERROR, "the request could not be served", request);
    }

    @Override
    protected ResponseEntity<Object> handleHttpMessageNotReadable(HttpMessageNotReadableException e,
            HttpHeaders headers, HttpStatusCode status, WebRequest request) {
        return problem(e, status, unreadableDetail(e), request);
    }

    static String unreadableDetail(HttpMessageNotReadableException e) {
        Throwable cause = e.getMostSpecificCause();
        if (cause instanceof StreamReadException) {
            return "the request body is not valid JSON";
        }
        if (cause instanceof JacksonException jackson) {
            String field = jackson.getPath().stream()
                    .map(JacksonException.Reference::getPropertyName)
                    .filter(name -> name != null)
                    .reduce((a, b) -> a + "." + b)
                    .orElse(null);
            return field == null ? "the request body must be a JSON object"
                    : "'" + field + "' has the wrong type (expected a string)";
        }
        return "a JSON request body is required";
    }

    @Override
    protected ResponseEntity<Object> handleMethodArgumentNotValid(MethodArgumentNotValidException e,
            HttpHeaders headers, HttpStatusCode status, WebRequest request) {
        List<Map<String, String>> errors = e.getFieldErrors().stream()
                .map(f -> Map.of("field", f.getField(), "message", String.valueOf(f.getDefaultMessage())))
                .toList();
        String detail = String.join("; ", errors.stream().map(m -> m.get("field") + " " + m.get("message")).toList());
        ProblemDetail body = ProblemDetail.forStatusAndDetail(status, detail.isEmpty() ? "invalid request" : detail);
        body.setProperty("errors", errors);
        return handleExceptionInternal(e, body, headers, status, request);
    }

    @Override
    protected ResponseEntity<Object> handleTypeMismatch(TypeMismatchException e, HttpHeaders headers,
            HttpStatusCode status, WebRequest request) {
        String name = e.getPropertyName() == null ? "a parameter" : "'" + e.getPropertyName() + "'";
        return problem(e, status, name + " must be a whole number", request);
    }

    /** Last step for every problem built by the base class or here. */
    @Override
    protected ResponseEntity<Object> createResponseEntity(Object body, HttpHeaders headers,
            HttpStatusCode statusCode, WebRequest request) {
        if (body instanceof ProblemDetail problem) {
            decorate(problem, request);
        }
        return super.createResponseEntity(body, headers, statusCode, request);
    }

    private ResponseEntity<Object> problem(Exception e, HttpStatusCode status, String detail, WebRequest request) {
        ProblemDetail body = ProblemDetail.forStatusAndDetail(status, detail);
        return handleExceptionInternal(e, body, new HttpHeaders(), status, request);
    }

    private static void decorate(ProblemDetail problem, WebRequest request) {
        if (problem.getInstance() == null && request instanceof ServletWebRequest servlet) {
            try {
                problem.setInstance(URI.create(servlet.getRequest().getRequestURI()));
            } catch (IllegalArgumentException ignored) {
                // Not a valid URI reference: leave instance out rather than fail the error response.
            }
        }
        if (problem.getDetail() != null) {
            problem.setProperty("message", problem.getDetail());
        }
    }

    private static String describe(WebRequest request) {
        if (request instanceof ServletWebRequest servlet) {
            return servlet.getRequest().getMethod() + " " + servlet.getRequest().getRequestURI();
        }
        return request.getDescription(false);
    }

    /** A request body over {@link ApiInterceptor#MAX_BODY_BYTES} (413). */
    public static class PayloadTooLargeException extends ErrorResponseException {
        public PayloadTooLargeException(long limit) {
            super(HttpStatus.CONTENT_TOO_LARGE,
                    ProblemDetail.forStatusAndDetail(HttpStatus.CONTENT_TOO_LARGE,
                            "the request body is larger than " + limit + " bytes"), null);
        }
    }
}
