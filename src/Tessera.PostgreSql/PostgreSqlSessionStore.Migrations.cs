namespace Tessera.PostgreSql;

// The schema: the shipped migrations, rendered for this store's names, and applied on request (see PostgreSqlSchema).
public sealed partial class PostgreSqlSessionStore
{
    /// <summary>The schema version this code writes (the number of the last file in <see cref="Migrations"/>).</summary>
    public static int SchemaVersion => PostgreSqlSchema.LatestVersion;

    /// <summary>The migrations as shipped (schema <c>public</c>, Compas naming), in order; also in the package's <c>Migrations</c> folder.</summary>
    public static IReadOnlyList<PostgreSqlMigration> Migrations => PostgreSqlSchema.Migrations;

    /// <summary>Whether the host applies the migrations at start-up (<see cref="PostgreSqlSessionStoreOptions.ApplyMigrationsAtStartup"/>).</summary>
    public bool ApplyMigrationsAtStartup => _options.ApplyMigrationsAtStartup;

    /// <summary>
    /// Returns the migrations' SQL for this store's schema, table names and naming style, in order, for teams that run
    /// their own migration tool.
    /// </summary>
    /// <returns>Pairs of file name and SQL.</returns>
    public IReadOnlyList<PostgreSqlMigration> RenderMigrations() =>
        PostgreSqlSchema.Migrations.Select(m => m with { Sql = _schema.Rewrite(m.Sql) }).ToList();

    /// <summary>
    /// Creates the schema and tables, or upgrades existing ones (Compas's included) in place, applying each missing
    /// migration once. Idempotent and safe to call from several instances at once: the migrations run in one
    /// transaction under an advisory lock, and are recorded in their own table.
    /// </summary>
    /// <param name="cancellationToken">Cancels the migration (nothing is half-applied).</param>
    /// <returns>A task that completes when the schema is current.</returns>
    /// <exception cref="InvalidOperationException">The tables were migrated by a newer version of this package.</exception>
    public async Task EnsureSchemaAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var (from, to) = await _schema.MigrateAsync(_dataSource, PostgreSqlSessionStoreDefaults.MigrationTimeout, _logger, cancellationToken).ConfigureAwait(false);
        Log.SchemaReady(_logger, to, from);
    }
}
