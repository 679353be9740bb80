using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.Sqlite;

namespace Tessera;

/// <summary>Chooses the SQLite store on a <see cref="TesseraBuilder"/>.</summary>
public static class SqliteTesseraBuilderExtensions
{
    /// <summary>
    /// The configuration section <see cref="UseSqliteStore(TesseraBuilder, Action{SqliteSessionStoreOptions}?)"/> binds to
    /// <see cref="SqliteSessionStoreOptions"/>: <c>Tessera:Sqlite</c> (keys <c>ConnectionString</c>, <c>MaxSessions</c>,
    /// <c>MaxAnonymousSessions</c>, <c>CapacityPolicy</c>, <c>CommandTimeout</c>).
    /// </summary>
    public const string ConfigurationSection = "Tessera:Sqlite";

    /// <summary>
    /// Uses <see cref="SqliteSessionStore"/> with its options from configuration: the <c>Tessera:Sqlite</c> section
    /// (<see cref="ConfigurationSection"/>) is bound to <see cref="SqliteSessionStoreOptions"/>, then
    /// <paramref name="configure"/> adjusts them, and they are validated when the host starts, with one message per bad
    /// value naming its key (an <see cref="OptionsValidationException"/>). Without the section the defaults apply
    /// (<c>Data Source=./data/sessions.db</c>). Otherwise as
    /// <see cref="UseSqliteStore(TesseraBuilder, string, Action{SqliteSessionStoreOptions}?)"/>.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Adjusts the bound options (code wins over configuration); <see langword="null"/> leaves them to configuration.</param>
    /// <returns>The builder.</returns>
    public static TesseraBuilder UseSqliteStore(this TesseraBuilder builder, Action<SqliteSessionStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddStoreOptions<SqliteSessionStoreOptions>(ConfigurationSection, configure, options => options.Problems());
        return builder.UseStore(sp => Create(sp, sp.GetRequiredService<IOptions<SqliteSessionStoreOptions>>().Value));
    }

    /// <summary>
    /// Uses <see cref="SqliteSessionStore"/> as the session store (a singleton, disposed with the container), on the
    /// container's <see cref="TimeProvider"/> (<see cref="TimeProvider.System"/> when none is registered) and logger.
    /// The options are validated here, so a bad connection string fails at start-up; the file is created on first use.
    /// Reads no configuration: the options are what the arguments say.
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
        return builder.UseStore(sp => Create(sp, options));
    }

    private static SqliteSessionStore Create(IServiceProvider services, SqliteSessionStoreOptions options) => new(
        options,
        services.GetService<TimeProvider>() ?? TimeProvider.System,
        services.GetService<ILoggerFactory>()?.CreateLogger<SqliteSessionStore>());
}
