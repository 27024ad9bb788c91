package io.deployer.demo.items;

import java.time.Instant;

/** One item as stored and as returned by the API: {@code {"id","name","description","createdAt"}}. */
public record Item(long id, String name, String description, Instant createdAt) {
}
