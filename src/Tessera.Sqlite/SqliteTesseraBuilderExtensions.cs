using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tessera.Sqlite;

namespace Tessera;

/// <summary>Chooses the SQLite store on a <see cref="TesseraBuilder"/>.</summary>
public static class SqliteTesseraBuilderExtensions
{
    /// <summary>
    /// Uses <see cref="SqliteSessionStore"/> as the session store (a singleton, disposed with the container), on the
    /// container's <see cref="TimeProvider"/> (<see cref="TimeProvider.System"/> when none is registered) and logger.
    /// The options are validated here, so a bad connection string fails at start-up; the file is created on first use.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="connectionString">The Microsoft.Data.Sqlite connection string, for example <c>Data Source=./data/sessions.db</c>.</param>
    /// <param name="configure">Adjusts the bound, capacity policy and timeout; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The connection string or an option is invalid.</exception>
    public static TesseraBuilder UseSqliteStore(this TesseraBuilder builder, string connectionString, Action<SqliteSessionStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var options = new SqliteSessionStoreOptions { ConnectionString = connectionString };
        configure?.Invoke(options);
        options.Validate();
        return builder.UseStore(sp => new SqliteSessionStore(
            options,
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetService<ILoggerFactory>()?.CreateLogger<SqliteSessionStore>()));
    }
}
