package io.deployer.demo.items;

/** No item has the requested id (answered 404). */
public class ItemNotFoundException extends RuntimeException {
    private final long id;

    public ItemNotFoundException(long id) {
        super("item " + id + " not found");
        this.id = id;
    }

    public long id() {
        return id;
    }
}
