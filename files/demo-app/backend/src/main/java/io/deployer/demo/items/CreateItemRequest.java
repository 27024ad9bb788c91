package io.deployer.demo.items;

import jakarta.validation.constraints.NotBlank;

/**
 * Body of {@code POST /api/items}. The limits are the ones of the first (framework-free) API:
 * a name of 1 to 200 characters once stripped, a description of at most 2000.
 */
public record CreateItemRequest(
        @NotBlank(message = "is required and must be a non-empty string")
        @CodePoints(max = CreateItemRequest.NAME_MAX)
        String name,
        @CodePoints(max = CreateItemRequest.DESCRIPTION_MAX)
        String description) {

    public static final int NAME_MAX = 200;
    public static final int DESCRIPTION_MAX = 2000;
}
