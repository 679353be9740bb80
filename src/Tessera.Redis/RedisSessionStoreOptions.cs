namespace Tessera.Redis;

/// <summary>Every default of <see cref="RedisSessionStore"/> in one place.</summary>
public static class RedisSessionStoreDefaults
{
    /// <summary>The prefix of every key the store writes: <c>tessera</c>.</summary>
    public const string KeyPrefix = "tessera";

    /// <summary>The longest key prefix accepted: 64 characters.</summary>
    public const int MaxKeyPrefixLength = 64;

    /// <summary>
    /// How much longer than a session's remaining absolute lifetime its keys are kept by Redis's own expiry (the
    /// garbage-collection safety net): 1 hour.
    /// </summary>
    public static readonly TimeSpan ExpiryMargin = TimeSpan.FromHours(1);

    /// <summary>
    /// The most live anonymous sessions: 1,000,000 (about a gigabyte of Redis memory with small carts), far above what
    /// real anonymous traffic keeps alive within an anonymous idle timeout, and far below what a flood would write.
    /// </summary>
    public const int MaxAnonymousSessions = 1_000_000;
}

/// <summary>Options of <see cref="RedisSessionStore"/>. Validated when the store is constructed.</summary>
public sealed class RedisSessionStoreOptions
{
    /// <summary>
    /// The connection string (<c>host:port[,password=...][,user=...][,database=N][,connectTimeout=ms][,commandTimeout=ms]</c>),
    /// used when no <see cref="Resp.RedisConnection"/> is given. The database to use is chosen here. Default <see langword="null"/>.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// The prefix of every key, so several apps (or test runs) can share one database. Default
    /// <see cref="RedisSessionStoreDefaults.KeyPrefix"/> (<c>tessera</c>); 1 to 64 characters, no whitespace. A prefix
    /// that is itself a hash tag, such as <c>{tessera}</c>, puts every key of the store on one Redis Cluster slot (see
    /// <see cref="RedisSessionStore"/> for what that means on a cluster).
    /// </summary>
    public string KeyPrefix { get; set; } = RedisSessionStoreDefaults.KeyPrefix;

    /// <summary>
    /// How much longer than a session's remaining absolute lifetime (by the store's clock) Redis keeps its keys before
    /// its own expiry removes them. Expiry decisions never depend on it: it only garbage-collects sessions that cleanup
    /// has not deleted, and absorbs a clock difference between the app and Redis. Default
    /// <see cref="RedisSessionStoreDefaults.ExpiryMargin"/> (1 hour); 1 second to 30 days.
    /// </summary>
    public TimeSpan ExpiryMargin { get; set; } = RedisSessionStoreDefaults.ExpiryMargin;

    /// <summary>
    /// The most live anonymous sessions (without a subject) the store holds; a new anonymous session beyond it is refused
    /// with <see cref="SessionStoreFullException"/> (a 503 from the middleware) and nothing is evicted: signed-in sessions
    /// are never affected. Default <see cref="RedisSessionStoreDefaults.MaxAnonymousSessions"/> (1,000,000); at least 1;
    /// <see langword="null"/> for no bound. The count is exact on one Redis node: each create checks a sorted set of the
    /// live anonymous sessions by expiry (one <c>ZCOUNT</c>, O(log n), inside the create's script).
    /// </summary>
    public int? MaxAnonymousSessions { get; set; } = RedisSessionStoreDefaults.MaxAnonymousSessions;

    /// <summary>Throws when an option is out of range; the store calls this before touching Redis.</summary>
    /// <exception cref="ArgumentException">The key prefix is empty, too long or contains whitespace.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The expiry margin or the anonymous bound is out of range.</exception>
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
        if (string.IsNullOrEmpty(KeyPrefix) || KeyPrefix.Length > RedisSessionStoreDefaults.MaxKeyPrefixLength || KeyPrefix.Any(char.IsWhiteSpace))
        {
            yield return new ArgumentException($"KeyPrefix must be 1 to {RedisSessionStoreDefaults.MaxKeyPrefixLength} characters without whitespace.", nameof(KeyPrefix));
        }
        if (ExpiryMargin < TimeSpan.FromSeconds(1) || ExpiryMargin > TimeSpan.FromDays(30))
        {
            yield return new ArgumentOutOfRangeException(nameof(ExpiryMargin), ExpiryMargin, "ExpiryMargin must be between one second and 30 days.");
        }
        if (MaxAnonymousSessions is < 1)
        {
            yield return new ArgumentOutOfRangeException(nameof(MaxAnonymousSessions), MaxAnonymousSessions, "MaxAnonymousSessions must be at least 1 (or null for no bound).");
        }
    }

    /// <summary>
    /// The problems of <see cref="Problems"/>, plus the connection string's: required (the store opens its own
    /// connection) and one the client can use. A message never quotes the string, which may hold a password.
    /// </summary>
    internal IEnumerable<ArgumentException> ProblemsWithConnectionString()
    {
        foreach (var problem in Problems())
        {
            yield return problem;
        }
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            yield return new ArgumentException("ConnectionString is required: host:port[,password=...][,database=N].", nameof(ConnectionString));
            yield break;
        }
        ArgumentException? unusable = null;
        try
        {
            Resp.RedisOptions.Parse(ConnectionString).Validate();
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            unusable = new ArgumentException(e.Message, nameof(ConnectionString), e);
        }
        if (unusable is not null)
        {
            yield return unusable;
        }
    }

    internal RedisSessionStoreOptions Clone() => (RedisSessionStoreOptions)MemberwiseClone();
}
