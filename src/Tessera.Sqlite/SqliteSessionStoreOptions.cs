using Microsoft.Data.Sqlite;

namespace Tessera.Sqlite;

/// <summary>Every default of <see cref="SqliteSessionStore"/> in one place.</summary>
public static class SqliteSessionStoreDefaults
{
    /// <summary>The database file: <c>Data Source=./data/sessions.db</c>, relative to the working directory.</summary>
    public const string ConnectionString = "Data Source=./data/sessions.db";

    /// <summary>The store's bound: 1,000,000 sessions (a few hundred megabytes of disk with small session data).</summary>
    public const int MaxSessions = 1_000_000;

    /// <summary>
    /// How long one store operation may wait for the database (the write lock, a busy reader, a command): 10 seconds.
    /// </summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);
}

/// <summary>Options of <see cref="SqliteSessionStore"/>. Validated when the store is constructed.</summary>
public sealed class SqliteSessionStoreOptions
{
    /// <summary>
    /// The Microsoft.Data.Sqlite connection string of the database file. Default
    /// <see cref="SqliteSessionStoreDefaults.ConnectionString"/> (<c>Data Source=./data/sessions.db</c>). The file and
    /// its directory are created when missing. In-memory databases (<c>:memory:</c>, <c>Mode=Memory</c>) are refused:
    /// each of the store's connections would open a database of its own, and a pooled one would not outlive its operation.
    /// Foreign keys are always turned on; pooling stays as the string says (on by default).
    /// </summary>
    public string ConnectionString { get; set; } = SqliteSessionStoreDefaults.ConnectionString;

    /// <summary>
    /// The most sessions held at once (live, expired-but-not-yet-collected and revoked alike). Default
    /// <see cref="SqliteSessionStoreDefaults.MaxSessions"/> (1,000,000); 0 or less is refused.
    /// </summary>
    public int MaxSessions { get; set; } = SqliteSessionStoreDefaults.MaxSessions;

    /// <summary>
    /// The most anonymous sessions (rows without a subject, in any state) held at once. Default <see langword="null"/>:
    /// half of <see cref="MaxSessions"/> (500,000 at the default bound), so anonymous visitors can never take the room
    /// signed-in users need. At least 1; a value above <see cref="MaxSessions"/> leaves anonymous sessions bounded by
    /// <see cref="MaxSessions"/> alone. Whatever it is, a signed-in session is never evicted to make room for an
    /// anonymous one.
    /// </summary>
    public int? MaxAnonymousSessions { get; set; }

    /// <summary>
    /// What happens when a new session would exceed <see cref="MaxSessions"/>, or a new anonymous one
    /// <see cref="MaxAnonymousSessions"/>. Default <see cref="StoreCapacityPolicy.EvictLeastRecentlyUsed"/>: expired
    /// sessions go first, then the least recently seen anonymous sessions (1% of the bound, at least one), and signed-in
    /// ones only for a new signed-in session; an anonymous session that would need a signed-in one evicted is refused
    /// with <see cref="SessionStoreFullException"/>.
    /// </summary>
    public StoreCapacityPolicy CapacityPolicy { get; set; } = StoreCapacityPolicy.EvictLeastRecentlyUsed;

    /// <summary>
    /// How long one operation may wait for the database, including waiting for another writer (SQLite's busy timeout)
    /// and for this store's own writers. Default <see cref="SqliteSessionStoreDefaults.CommandTimeout"/> (10 seconds);
    /// at least one second (Microsoft.Data.Sqlite counts whole seconds). Past it the operation throws.
    /// </summary>
    public TimeSpan CommandTimeout { get; set; } = SqliteSessionStoreDefaults.CommandTimeout;

    /// <summary>The anonymous bound in force: <see cref="MaxAnonymousSessions"/>, or half of <see cref="MaxSessions"/> when unset.</summary>
    internal int EffectiveMaxAnonymousSessions =>
        Math.Min(MaxSessions, MaxAnonymousSessions ?? Math.Max(1, MaxSessions / TesseraDefaults.AnonymousShareDivisor));

    /// <summary>Throws when an option is out of range; the store calls this before touching the database.</summary>
    /// <exception cref="ArgumentException">The connection string is empty, unparsable or names an in-memory database.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A bound or timeout is out of range.</exception>
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
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            yield return new ArgumentException("The SQLite session store needs a connection string naming a database file.", nameof(ConnectionString));
        }
        else if (ConnectionStringProblem() is { } problem)
        {
            yield return problem;
        }
        if (MaxSessions <= 0)
        {
            yield return new ArgumentOutOfRangeException(nameof(MaxSessions), MaxSessions, "MaxSessions must be at least 1.");
        }
        if (MaxAnonymousSessions is < 1)
        {
            yield return new ArgumentOutOfRangeException(nameof(MaxAnonymousSessions), MaxAnonymousSessions, "MaxAnonymousSessions must be at least 1 (or unset for half of MaxSessions).");
        }
        if (CommandTimeout < TimeSpan.FromSeconds(1) || CommandTimeout > TimeSpan.FromMilliseconds(int.MaxValue))
        {
            yield return new ArgumentOutOfRangeException(nameof(CommandTimeout), CommandTimeout, "CommandTimeout must be between one second and about 24 days.");
        }
        if (!Enum.IsDefined(CapacityPolicy))
        {
            yield return new ArgumentOutOfRangeException(nameof(CapacityPolicy), CapacityPolicy, "Unknown capacity policy.");
        }
    }

    private ArgumentException? ConnectionStringProblem()
    {
        SqliteConnectionStringBuilder parsed;
        try
        {
            parsed = new SqliteConnectionStringBuilder(ConnectionString);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            return new ArgumentException("The SQLite session store's connection string could not be parsed: " + e.Message, nameof(ConnectionString), e);
        }
        if (string.IsNullOrWhiteSpace(parsed.DataSource)
            || string.Equals(parsed.DataSource, ":memory:", StringComparison.OrdinalIgnoreCase)
            || parsed.Mode == SqliteOpenMode.Memory)
        {
            return new ArgumentException("The SQLite session store needs a database file (Data Source=path); in-memory databases are not supported.", nameof(ConnectionString));
        }
        if (parsed.Mode == SqliteOpenMode.ReadOnly)
        {
            return new ArgumentException("The SQLite session store writes; Mode=ReadOnly is not supported.", nameof(ConnectionString));
        }
        return null;
    }
}
