using System.Text.RegularExpressions;

namespace Tessera.PostgreSql;

/// <summary>How the store's tables and columns are named.</summary>
public enum PostgreSqlNamingStyle
{
    /// <summary>
    /// Compas's names: tables <c>"sessionStore"</c> and <c>"sessionStoreToken"</c>, camelCase columns, Tessera's own
    /// columns prefixed <c>tessera</c>. The default: a database shared with (or migrated from) Compas.
    /// </summary>
    Compas = 0,

    /// <summary>
    /// snake_case names for a new database with no Compas history: tables <c>tessera_session</c> and
    /// <c>tessera_session_token</c>, columns such as <c>revoked_at</c> and <c>credential_hash</c>.
    /// </summary>
    SnakeCase = 1,
}

/// <summary>
/// An application-supplied SQL fragment joined into a session read, so the session and its user come back in one
/// query (see <see cref="PostgreSqlSessionStore.LoadWithUserAsync(ReadOnlyMemory{byte}, CancellationToken)"/>).
/// </summary>
/// <param name="Join">
/// A join clause appended after <c>FROM sessions AS s</c>, for example
/// <c>LEFT JOIN users u ON u.id::text = s."tesseraSubject"</c>. The session table's alias is <c>s</c>.
/// </param>
/// <param name="Select">
/// One SQL expression giving the user as JSON (json, jsonb or text), for example <c>row_to_json(u)</c>; a SQL
/// <c>NULL</c> (no matching user) reads as no user.
/// </param>
/// <remarks>
/// Both fragments are trusted SQL written by the application, pasted into the statement as they are: never build them
/// from user input. Use a <c>LEFT JOIN</c> so that a session without a user still loads.
/// </remarks>
public sealed record PostgreSqlUserQuery(string Join, string Select);

/// <summary>Every default of <see cref="PostgreSqlSessionStore"/> in one place.</summary>
public static class PostgreSqlSessionStoreDefaults
{
    /// <summary>The schema: <c>public</c> (where Compas puts its tables).</summary>
    public const string Schema = "public";

    /// <summary>The sessions table under <see cref="PostgreSqlNamingStyle.Compas"/>: <c>sessionStore</c>.</summary>
    public const string CompasSessionsTable = "sessionStore";

    /// <summary>The tokens table under <see cref="PostgreSqlNamingStyle.Compas"/>: <c>sessionStoreToken</c>.</summary>
    public const string CompasTokensTable = "sessionStoreToken";

    /// <summary>The sessions table under <see cref="PostgreSqlNamingStyle.SnakeCase"/>: <c>tessera_session</c>.</summary>
    public const string SnakeCaseSessionsTable = "tessera_session";

    /// <summary>The tokens table under <see cref="PostgreSqlNamingStyle.SnakeCase"/>: <c>tessera_session_token</c>.</summary>
    public const string SnakeCaseTokensTable = "tessera_session_token";

    /// <summary>The longest table name accepted: 40 characters, so that derived index names fit PostgreSQL's 63.</summary>
    public const int MaxTableNameLength = 40;

    /// <summary>How long one store command may run: 10 seconds.</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long applying the migrations may take, waiting for another instance's lock included: 5 minutes.</summary>
    public static readonly TimeSpan MigrationTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The most live anonymous sessions: 1,000,000, far above what real anonymous traffic keeps alive within an anonymous
    /// idle timeout, and far below what a flood would write.
    /// </summary>
    public const int MaxAnonymousSessions = 1_000_000;

    /// <summary>How often an instance counts the live anonymous sessions again: every 5 seconds.</summary>
    public static readonly TimeSpan AnonymousCountInterval = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The <c>Maximum Pool Size</c> of a data source the store builds from a connection string that names none: twice the
    /// processor count, at least 10 (Npgsql's own default is 100). Each store statement holds a connection for one round
    /// trip, so a few connections serve many requests; more only add PostgreSQL backends that compete for the server's
    /// cores.
    /// </summary>
    public static int MaxPoolSize => Math.Max(10, 2 * Environment.ProcessorCount);

    /// <summary>
    /// The <c>Max Auto Prepare</c> of a multiplexing data source the store builds from a connection string that names
    /// none: 32, room for every statement the store runs (multiplexing refuses explicit preparation, so the store's
    /// statements are prepared automatically after their first few uses instead).
    /// </summary>
    public const int MaxAutoPrepare = 32;
}

/// <summary>Options of <see cref="PostgreSqlSessionStore"/>. Validated when the store is constructed.</summary>
public sealed partial class PostgreSqlSessionStoreOptions
{
    /// <summary>
    /// The Npgsql connection string, used when no <c>NpgsqlDataSource</c> is given. Default <see langword="null"/>.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// The connection string of the near cache's <c>LISTEN</c> connection, needed only when the store runs on a
    /// multiplexing data source the application built (multiplexing cannot hold a connection for <c>LISTEN</c>, and a
    /// built data source does not give its password back). Default <see langword="null"/>: the store's own data source
    /// listens, or, when the store built a multiplexing data source from <see cref="ConnectionString"/>, a non-multiplexing
    /// one from the same string. <c>Multiplexing</c> in this string is ignored (always off).
    /// </summary>
    public string? ListenConnectionString { get; set; }

    /// <summary>The schema holding the tables. Default <see cref="PostgreSqlSessionStoreDefaults.Schema"/> (<c>public</c>).</summary>
    public string Schema { get; set; } = PostgreSqlSessionStoreDefaults.Schema;

    /// <summary>
    /// How tables and columns are named. Default <see cref="PostgreSqlNamingStyle.Compas"/>. Choose
    /// <see cref="PostgreSqlNamingStyle.SnakeCase"/> only for a new database: the style cannot be changed afterwards.
    /// </summary>
    public PostgreSqlNamingStyle NamingStyle { get; set; } = PostgreSqlNamingStyle.Compas;

    /// <summary>
    /// The sessions table, or <see langword="null"/> (the default) for the naming style's name (<c>sessionStore</c> or
    /// <c>tessera_session</c>). Letters, digits and underscores, not starting with a digit, at most
    /// <see cref="PostgreSqlSessionStoreDefaults.MaxTableNameLength"/> characters; always quoted, so case is kept.
    /// </summary>
    public string? SessionsTable { get; set; }

    /// <summary>
    /// The tokens table, or <see langword="null"/> (the default) for the naming style's name (<c>sessionStoreToken</c>
    /// or <c>tessera_session_token</c>). The same rules as <see cref="SessionsTable"/>.
    /// </summary>
    public string? TokensTable { get; set; }

    /// <summary>
    /// How long one store command may run before it is cancelled and throws. Default
    /// <see cref="PostgreSqlSessionStoreDefaults.CommandTimeout"/> (10 seconds); 1 second to 1 hour, counted in whole
    /// seconds (Npgsql's unit). Waiting for a pooled connection is bounded by the connection string's <c>Timeout</c>.
    /// </summary>
    public TimeSpan CommandTimeout { get; set; } = PostgreSqlSessionStoreDefaults.CommandTimeout;

    /// <summary>
    /// The most live anonymous sessions (without a subject) the store holds, approximately; a new anonymous session
    /// beyond it is refused with <see cref="SessionStoreFullException"/> (a 503 from the middleware) and nothing is
    /// evicted: signed-in sessions are never affected. Default <see cref="PostgreSqlSessionStoreDefaults.MaxAnonymousSessions"/>
    /// (1,000,000); at least 1; <see langword="null"/> for no bound. Approximate because an exact count on every create
    /// would read the bound's worth of index entries per request: each instance counts every
    /// <see cref="AnonymousCountInterval"/> (stopping at the bound) and adds its own creations in between, so
    /// instances together can overshoot by what the others create within one interval (see <see cref="AnonymousSessionBudget"/>).
    /// Needs migration 3's index to count cheaply.
    /// </summary>
    public int? MaxAnonymousSessions { get; set; } = PostgreSqlSessionStoreDefaults.MaxAnonymousSessions;

    /// <summary>
    /// How often an instance counts the live anonymous sessions again for <see cref="MaxAnonymousSessions"/>. Default
    /// <see cref="PostgreSqlSessionStoreDefaults.AnonymousCountInterval"/> (5 seconds); 100 milliseconds to 1 hour, on the
    /// store's <see cref="TimeProvider"/>.
    /// </summary>
    public TimeSpan AnonymousCountInterval { get; set; } = PostgreSqlSessionStoreDefaults.AnonymousCountInterval;

    /// <summary>
    /// Whether the migrations are applied when the host starts (before other hosted services start). Default
    /// <see langword="false"/>: schema changes are opt-in; call <see cref="PostgreSqlSessionStore.EnsureSchemaAsync"/>
    /// or run the SQL files in the package's <c>Migrations</c> folder with your own tool.
    /// </summary>
    public bool ApplyMigrationsAtStartup { get; set; }

    /// <summary>
    /// The user row joined into session reads, or <see langword="null"/> (the default) for none. See
    /// <see cref="PostgreSqlUserQuery"/>.
    /// </summary>
    public PostgreSqlUserQuery? UserQuery { get; set; }

    /// <summary>The sessions table in effect: <see cref="SessionsTable"/> or the naming style's default.</summary>
    public string EffectiveSessionsTable => SessionsTable ?? (NamingStyle == PostgreSqlNamingStyle.SnakeCase
        ? PostgreSqlSessionStoreDefaults.SnakeCaseSessionsTable
        : PostgreSqlSessionStoreDefaults.CompasSessionsTable);

    /// <summary>The tokens table in effect: <see cref="TokensTable"/> or the naming style's default.</summary>
    public string EffectiveTokensTable => TokensTable ?? (NamingStyle == PostgreSqlNamingStyle.SnakeCase
        ? PostgreSqlSessionStoreDefaults.SnakeCaseTokensTable
        : PostgreSqlSessionStoreDefaults.CompasTokensTable);

    /// <summary>Throws when an option is out of range; the store calls this before touching the database.</summary>
    /// <exception cref="ArgumentException">A name is not a plain identifier, the two tables share a name, or the user query is incomplete.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The naming style or the timeout is out of range.</exception>
    public void Validate()
    {
        if (Problems().FirstOrDefault() is { } problem)
        {
            throw problem;
        }
    }

    /// <summary>Every problem of these options, in the order <see cref="Validate"/> reports the first; none when they are valid.</summary>
    internal IEnumerable<ArgumentException> Problems()
    {
        if (!Enum.IsDefined(NamingStyle))
        {
            yield return new ArgumentOutOfRangeException(nameof(NamingStyle), NamingStyle, "Unknown naming style.");
            yield break; // the effective table names depend on it
        }
        var names = new[]
        {
            IdentifierProblem(Schema, 63, nameof(Schema)),
            IdentifierProblem(EffectiveSessionsTable, PostgreSqlSessionStoreDefaults.MaxTableNameLength, nameof(SessionsTable)),
            IdentifierProblem(EffectiveTokensTable, PostgreSqlSessionStoreDefaults.MaxTableNameLength, nameof(TokensTable)),
        };
        foreach (var problem in names.OfType<ArgumentException>())
        {
            yield return problem;
        }
        if (string.Equals(EffectiveSessionsTable, EffectiveTokensTable, StringComparison.Ordinal))
        {
            yield return new ArgumentException("The sessions and tokens tables need different names.", nameof(TokensTable));
        }
        if (CommandTimeout < TimeSpan.FromSeconds(1) || CommandTimeout > TimeSpan.FromHours(1))
        {
            yield return new ArgumentOutOfRangeException(nameof(CommandTimeout), CommandTimeout, "CommandTimeout must be between one second and one hour.");
        }
        if (MaxAnonymousSessions is < 1)
        {
            yield return new ArgumentOutOfRangeException(nameof(MaxAnonymousSessions), MaxAnonymousSessions, "MaxAnonymousSessions must be at least 1 (or null for no bound).");
        }
        if (AnonymousCountInterval < TimeSpan.FromMilliseconds(100) || AnonymousCountInterval > TimeSpan.FromHours(1))
        {
            yield return new ArgumentOutOfRangeException(nameof(AnonymousCountInterval), AnonymousCountInterval, "AnonymousCountInterval must be between 100 milliseconds and one hour.");
        }
        if (UserQuery is { } user && (string.IsNullOrWhiteSpace(user.Join) || string.IsNullOrWhiteSpace(user.Select)))
        {
            yield return new ArgumentException("A user query needs both a join clause and a select expression.", nameof(UserQuery));
        }
        if (ListenConnectionString is { } listen && ConnectionStringProblem(listen, nameof(ListenConnectionString)) is { } unusableListen)
        {
            yield return unusableListen;
        }
    }

    /// <summary>The problems of <see cref="Problems"/>, plus a <see cref="ConnectionString"/> that is set but unparsable.</summary>
    internal IEnumerable<ArgumentException> ProblemsWithConnectionString()
    {
        foreach (var problem in Problems())
        {
            yield return problem;
        }
        if (ConnectionString is { } connectionString && ConnectionStringProblem(connectionString, nameof(ConnectionString)) is { } unusable)
        {
            yield return unusable;
        }
    }

    internal PostgreSqlSessionStoreOptions Clone() => (PostgreSqlSessionStoreOptions)MemberwiseClone();

    private static ArgumentException? IdentifierProblem(string? name, int maxLength, string option) =>
        string.IsNullOrEmpty(name) || name.Length > maxLength || !IdentifierPattern().IsMatch(name)
            ? new ArgumentException($"{option} must be a plain identifier: letters, digits and underscores, not starting with a digit, 1 to {maxLength} characters.", option)
            : null;

    // Npgsql's message names the bad keyword, never a value (the string may hold a password).
    private static ArgumentException? ConnectionStringProblem(string connectionString, string option)
    {
        try
        {
            _ = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
            return null;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            return new ArgumentException($"The {option} could not be parsed: " + e.Message, option, e);
        }
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$", RegexOptions.CultureInvariant)]
    private static partial Regex IdentifierPattern();
}
