package io.deployer.demo.items;

import io.swagger.v3.oas.annotations.media.ArraySchema;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import jakarta.validation.Valid;
import java.net.URI;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/** {@code /api/items}: the contract the SPA, the deployer's tests and the benchmarks use. */
@RestController
@RequestMapping(path = "/api/items", produces = "application/json")
public class ItemController {
    /** Says whether the list came from the cache: HIT or MISS. */
    public static final String CACHE_HEADER = "X-Cache";

    private final ItemService items;

    public ItemController(ItemService items) {
        this.items = items;
    }

    /**
     * The newest items (at most {@code app.list-limit}), newest first. The body comes rendered from
     * {@link ItemService} (the cache keeps it as bytes), so the schema is declared here.
     */
    @GetMapping
    @ApiResponse(responseCode = "200", description = "The newest items, newest first", content = @Content(
            mediaType = MediaType.APPLICATION_JSON_VALUE, array = @ArraySchema(schema = @Schema(implementation = Item.class))))
    public ResponseEntity<byte[]> list() {
        ItemService.Listing listing = items.list();
        return ResponseEntity.ok()
                .contentType(MediaType.APPLICATION_JSON)
                .header(CACHE_HEADER, listing.cacheHit() ? "HIT" : "MISS")
                .body(listing.json());
    }

    @GetMapping("/{id}")
    public Item get(@PathVariable long id) {
        return items.find(id).orElseThrow(() -> new ItemNotFoundException(id));
    }

    /** 201 with {@code Location: /api/items/{id}} and the stored item. */
    @PostMapping(consumes = "application/json")
    public ResponseEntity<Item> create(@Valid @RequestBody CreateItemRequest request) {
        Item item = items.create(request.name().strip(), request.description());
        return ResponseEntity.created(URI.create("/api/items/" + item.id())).body(item);
    }
}
