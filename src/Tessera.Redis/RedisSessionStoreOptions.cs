using StackExchange.Redis;

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

    /// <summary>How many replicas must acknowledge each session write: 0 (none; Redis replicates asynchronously).</summary>
    public const int ReplicaAcknowledgements = 0;

    /// <summary>How long a session write waits for its replica acknowledgements at most: 1 second.</summary>
    public static readonly TimeSpan ReplicaAcknowledgementTimeout = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How many credentials a store remembers the session of: 100,000 (each a SHA-256 and a session id, about 170 bytes,
    /// so at most about 17 MB of the app's memory).
    /// </summary>
    public const int CredentialLookupCacheSize = 100_000;

    /// <summary>The largest <see cref="RedisSessionStoreOptions.CredentialLookupCacheSize"/> accepted: 10,000,000.</summary>
    public const int MaxCredentialLookupCacheSize = 10_000_000;
}

/// <summary>Options of <see cref="RedisSessionStore"/>. Validated when the store is constructed.</summary>
public sealed class RedisSessionStoreOptions
{
    /// <summary>
    /// A StackExchange.Redis configuration string, the format its users know: one or more <c>host:port</c> endpoints
    /// (a single node, the nodes of a cluster, or Sentinels with <c>serviceName=...</c>), then options such as
    /// <c>password=</c>, <c>user=</c>, <c>ssl=true</c>, <c>sslHost=</c>, <c>defaultDatabase=</c>, <c>abortConnect=</c>,
    /// <c>connectTimeout=</c> and <c>syncTimeout=</c>/<c>asyncTimeout=</c>. Used when no multiplexer is handed to the
    /// store and <see cref="Configuration"/> is <see langword="null"/>. Default <see langword="null"/>. Never logged or
    /// quoted in an error (it may hold a password).
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// A StackExchange.Redis configuration, for what a string cannot say (a certificate validation callback,
    /// <c>TrustIssuer</c>, a client certificate, a logger factory); wins over <see cref="ConnectionString"/>. The store
    /// works on a copy. Default <see langword="null"/>. Not read from configuration files.
    /// </summary>
    public ConfigurationOptions? Configuration { get; set; }

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

    /// <summary>
    /// How many replicas of a session's primary must acknowledge each session write (Redis <c>WAIT</c>) before the store
    /// returns, which narrows what a failover can lose; see <c>docs/redis.md</c> for what it promises and costs. Default
    /// <see cref="RedisSessionStoreDefaults.ReplicaAcknowledgements"/> (0, no wait); 0 to 16. Above 0 the store opens one
    /// more multiplexer of its own for session writes, so it needs <see cref="ConnectionString"/> or
    /// <see cref="Configuration"/> even when a multiplexer is handed to it. A write whose replicas do not acknowledge in
    /// time still stands (Redis cannot take it back): the shortfall is logged.
    /// </summary>
    public int ReplicaAcknowledgements { get; set; } = RedisSessionStoreDefaults.ReplicaAcknowledgements;

    /// <summary>
    /// How long a session write waits for <see cref="ReplicaAcknowledgements"/> at most. Default
    /// <see cref="RedisSessionStoreDefaults.ReplicaAcknowledgementTimeout"/> (1 second); 1 millisecond to 1 minute.
    /// </summary>
    public TimeSpan ReplicaAcknowledgementTimeout { get; set; } = RedisSessionStoreDefaults.ReplicaAcknowledgementTimeout;

    /// <summary>
    /// How many credentials the store remembers the session of, so that a credential it has read before is read again with
    /// one <c>HGETALL</c> of its session's hash instead of the lookup script (which follows the credential's pointer
    /// first), which takes about 60 % off Redis's work per signed-in read. Only the credential's SHA-256 and the session's
    /// id are kept, never the session; a remembered read is served only when the session's hash still holds this credential
    /// and the session is live, so a session revoked, renewed or deleted by any instance ends at once, as without it. When
    /// full, entries of sessions past their absolute expiry are dropped, and all of them when that frees less than a
    /// quarter. Default <see cref="RedisSessionStoreDefaults.CredentialLookupCacheSize"/> (100,000); 0 to <see
    /// cref="RedisSessionStoreDefaults.MaxCredentialLookupCacheSize"/>; 0 remembers nothing (every read runs the script).
    /// </summary>
    public int CredentialLookupCacheSize { get; set; } = RedisSessionStoreDefaults.CredentialLookupCacheSize;

    /// <summary>Throws when an option is out of range; the store calls this before touching Redis.</summary>
    /// <exception cref="ArgumentException">The key prefix is empty, too long or contains whitespace.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The expiry margin, the anonymous bound, the replica acknowledgements, their timeout or the credential lookup cache size is out of range.</exception>
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
        if (ReplicaAcknowledgements is < 0 or > 16)
        {
            yield return new ArgumentOutOfRangeException(nameof(ReplicaAcknowledgements), ReplicaAcknowledgements, "ReplicaAcknowledgements must be between 0 and 16.");
        }
        if (ReplicaAcknowledgementTimeout < TimeSpan.FromMilliseconds(1) || ReplicaAcknowledgementTimeout > TimeSpan.FromMinutes(1))
        {
            yield return new ArgumentOutOfRangeException(nameof(ReplicaAcknowledgementTimeout), ReplicaAcknowledgementTimeout, "ReplicaAcknowledgementTimeout must be between one millisecond and one minute.");
        }
        if (CredentialLookupCacheSize is < 0 or > RedisSessionStoreDefaults.MaxCredentialLookupCacheSize)
        {
            yield return new ArgumentOutOfRangeException(nameof(CredentialLookupCacheSize), CredentialLookupCacheSize, FormattableString.Invariant($"CredentialLookupCacheSize must be between 0 and {RedisSessionStoreDefaults.MaxCredentialLookupCacheSize:N0}."));
        }
    }

    /// <summary>
    /// The problems of <see cref="Problems"/>, plus the connection's: required (the store opens its own multiplexer) and
    /// one StackExchange.Redis accepts, with at least one endpoint. A message never quotes the string, which may hold a password.
    /// </summary>
    internal IEnumerable<ArgumentException> ProblemsWithConnectionString()
    {
        foreach (var problem in Problems())
        {
            yield return problem;
        }
        ArgumentException? unusable = null;
        try
        {
            _ = ConfigurationOrThrow();
        }
        catch (ArgumentException e)
        {
            unusable = e;
        }
        if (unusable is not null)
        {
            yield return unusable;
        }
    }

    /// <summary>A copy of <see cref="Configuration"/>, or <see cref="ConnectionString"/> parsed; throws when neither is usable.</summary>
    /// <exception cref="ArgumentException">Neither is set, the string is malformed, or it names no endpoint.</exception>
    internal ConfigurationOptions ConfigurationOrThrow()
    {
        ConfigurationOptions parsed;
        if (Configuration is not null)
        {
            parsed = Configuration.Clone();
        }
        else if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw new ArgumentException("ConnectionString is required (a StackExchange.Redis configuration string: host:port[,host:port...][,password=...][,ssl=true]), or hand the store a Configuration or an IConnectionMultiplexer.", nameof(ConnectionString));
        }
        else
        {
            try
            {
                parsed = ConfigurationOptions.Parse(ConnectionString);
            }
            catch (Exception e) when (e is ArgumentException or FormatException or NotSupportedException)
            {
                // StackExchange.Redis names the offending keyword, never the password; the string itself is not quoted.
                throw new ArgumentException("ConnectionString is not a StackExchange.Redis configuration string: " + e.Message, nameof(ConnectionString));
            }
        }
        if (parsed.EndPoints.Count == 0)
        {
            throw new ArgumentException("The Redis configuration names no endpoint (host:port).", nameof(ConnectionString));
        }
        return parsed;
    }

    internal RedisSessionStoreOptions Clone() => (RedisSessionStoreOptions)MemberwiseClone();
}
