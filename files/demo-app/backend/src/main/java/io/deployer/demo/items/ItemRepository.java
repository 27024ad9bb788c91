package io.deployer.demo.items;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/**
 * Rows of table {@code items}. Names are unqualified: the connection's search_path is schema
 * {@code app} ({@code spring.datasource.hikari.schema}, and the runtime role's default from roles.sql).
 */
@Repository
public class ItemRepository {
    private static final String COLUMNS = "id, name, description, created_at";

    private final JdbcClient jdbc;

    public ItemRepository(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /** The newest {@code limit} items, newest first. */
    public List<Item> newest(int limit) {
        return jdbc.sql("SELECT " + COLUMNS + " FROM items ORDER BY id DESC LIMIT :limit")
                .param("limit", limit)
                .query(ItemRepository::map)
                .list();
    }

    public Optional<Item> find(long id) {
        return jdbc.sql("SELECT " + COLUMNS + " FROM items WHERE id = :id")
                .param("id", id)
                .query(ItemRepository::map)
                .optional();
    }

    /** Inserts one item and returns it as stored (id and created_at set by PostgreSQL). */
    public Item create(String name, String description) {
        return jdbc.sql("INSERT INTO items (name, description) VALUES (:name, :description) RETURNING " + COLUMNS)
                .param("name", name)
                .param("description", description)
                .query(ItemRepository::map)
                .single();
    }

    private static Item map(ResultSet rs, int rowNum) throws SQLException {
        OffsetDateTime created = rs.getObject("created_at", OffsetDateTime.class);
        return new Item(rs.getLong("id"), rs.getString("name"), rs.getString("description"),
                created == null ? null : created.toInstant());
    }
}
