using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Tessera;

/// <summary>
/// Tessera's instruments, on a <see cref="Meter"/> named <see cref="MeterName"/> (<c>Tessera</c>): subscribe with
/// OpenTelemetry's <c>AddMeter("Tessera")</c> or a <see cref="MeterListener"/>. Registered as a singleton by
/// <c>AddTessera()</c>; the meter comes from the container's <see cref="IMeterFactory"/> when there is one (every
/// ASP.NET Core and generic host has one), else from one static meter shared by the process.
/// </summary>
/// <remarks>
/// Tags never carry a session id, a subject or a credential: only the bounded values the docs list (transport, reason,
/// store type name, operation, error type, credential kind). Recording checks <see cref="Instrument.Enabled"/> first,
/// so nothing is measured, and nothing allocated, while no listener is attached.
/// </remarks>
public sealed class TesseraMetrics
{
    /// <summary>The meter's name: <c>Tessera</c>.</summary>
    public const string MeterName = "Tessera";

    /// <summary>Counter <c>tessera.sessions.created</c> ({session}), tag <c>transport</c> (<c>cookie</c> or <c>bearer</c>).</summary>
    public const string SessionsCreated = "tessera.sessions.created";

    /// <summary>Counter <c>tessera.sessions.signed_in</c> ({session}), tag <c>transport</c>.</summary>
    public const string SessionsSignedIn = "tessera.sessions.signed_in";

    /// <summary>Counter <c>tessera.sessions.revoked</c> ({session}), tag <c>reason</c> (<c>sign_out</c>, <c>operator</c>, <c>limit</c>, <c>leak</c>, <c>user</c>).</summary>
    public const string SessionsRevoked = "tessera.sessions.revoked";

    /// <summary>Counter <c>tessera.sessions.expired</c> ({session}): expired sessions deleted by cleanup. No tags.</summary>
    public const string SessionsExpired = "tessera.sessions.expired";

    /// <summary>Histogram <c>tessera.store.operation.duration</c> (seconds), tags <c>store</c> and <c>operation</c>.</summary>
    public const string StoreOperationDuration = "tessera.store.operation.duration";

    /// <summary>Counter <c>tessera.store.errors</c> ({error}), tags <c>store</c>, <c>operation</c> and <c>error.type</c> (the exception's full type name).</summary>
    public const string StoreErrors = "tessera.store.errors";

    /// <summary>Counter <c>tessera.credentials.rejected</c> ({credential}), tags <c>kind</c> (<c>cookie</c> or <c>token</c>) and <c>reason</c>.</summary>
    public const string CredentialsRejected = "tessera.credentials.rejected";

    /// <summary>
    /// Counter <c>tessera.tokens.grace_answered</c> ({refresh}): refreshes answered within the reuse grace window with
    /// the rotated token's current successor pair, instead of a rotation. No tags.
    /// </summary>
    public const string TokensGraceAnswered = "tessera.tokens.grace_answered";

    /// <summary>
    /// Counter <c>tessera.near_cache.lookups</c> ({lookup}), tag <c>result</c>: <c>hit</c> (served from memory),
    /// <c>miss</c> (read from the store and kept) or <c>bypass</c> (read from the store while the invalidation channel is down).
    /// </summary>
    public const string NearCacheLookups = "tessera.near_cache.lookups";

    /// <summary>
    /// Counter <c>tessera.near_cache.invalidations</c> ({invalidation}), tag <c>source</c>: <c>local</c> (a write on this
    /// instance), <c>remote</c> (a message from the channel), <c>all</c> (a remote "everything") or <c>reconnect</c>
    /// (the channel went down or came back, so everything was dropped).
    /// </summary>
    public const string NearCacheInvalidations = "tessera.near_cache.invalidations";

    /// <summary>
    /// Counter <c>tessera.requests.cross_origin_refused</c> ({request}): unsafe requests carrying the session cookie that
    /// the request-origin guard refused with 403, tag <c>reason</c>: <c>cross_site</c>, <c>same_site</c> or
    /// <c>origin_mismatch</c>.
    /// </summary>
    public const string CrossOriginRequestsRefused = "tessera.requests.cross_origin_refused";

    private static readonly Meter StaticMeter = new(MeterName, typeof(TesseraMetrics).Assembly.GetName().Version?.ToString());
    private static TesseraMetrics? _shared;

    private readonly Counter<long> _created;
    private readonly Counter<long> _signedIn;
    private readonly Counter<long> _revoked;
    private readonly Counter<long> _expired;
    private readonly Histogram<double> _storeDuration;
    private readonly Counter<long> _storeErrors;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _graceAnswered;
    private readonly Counter<long> _nearCacheLookups;
    private readonly Counter<long> _nearCacheInvalidations;
    private readonly Counter<long> _crossOriginRefused;

    /// <summary>Creates the instruments.</summary>
    /// <param name="meterFactory">
    /// Creates the meter (so it is scoped to the container and disposed with it); <see langword="null"/> uses one static
    /// meter for the whole process.
    /// </param>
    public TesseraMetrics(IMeterFactory? meterFactory = null)
    {
        Meter = meterFactory?.Create(new MeterOptions(MeterName) { Version = StaticMeter.Version }) ?? StaticMeter;
        _created = Meter.CreateCounter<long>(SessionsCreated, "{session}", "Sessions stored for the first time.");
        _signedIn = Meter.CreateCounter<long>(SessionsSignedIn, "{session}", "Sign-ins committed.");
        _revoked = Meter.CreateCounter<long>(SessionsRevoked, "{session}", "Live sessions revoked, by reason.");
        _expired = Meter.CreateCounter<long>(SessionsExpired, "{session}", "Expired sessions deleted by cleanup.");
        _storeDuration = Meter.CreateHistogram(StoreOperationDuration, "s", "Duration of session store operations.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _storeErrors = Meter.CreateCounter<long>(StoreErrors, "{error}", "Session store operations that threw.");
        _rejected = Meter.CreateCounter<long>(CredentialsRejected, "{credential}", "Presented cookies and tokens that found no live session, by reason.");
        _graceAnswered = Meter.CreateCounter<long>(TokensGraceAnswered, "{refresh}", "Refreshes answered with the current successor pair within the reuse grace window.");
        _nearCacheLookups = Meter.CreateCounter<long>(NearCacheLookups, "{lookup}", "Session reads through the near cache, by result.");
        _nearCacheInvalidations = Meter.CreateCounter<long>(NearCacheInvalidations, "{invalidation}", "Sessions dropped from the near cache, by source.");
        _crossOriginRefused = Meter.CreateCounter<long>(CrossOriginRequestsRefused, "{request}", "Cross-origin unsafe requests carrying the session cookie refused by the request-origin guard, by reason.");
    }

    /// <summary>The meter the instruments live on.</summary>
    public Meter Meter { get; }

    /// <summary>The instance used when none is given to <see cref="SessionManager"/>: on the static meter.</summary>
    internal static TesseraMetrics Shared => LazyInitializer.EnsureInitialized(ref _shared, () => new TesseraMetrics());

    internal bool StoreMeasured => _storeDuration.Enabled || _storeErrors.Enabled;

    internal void Created(SessionCredentialKind kind)
    {
        if (_created.Enabled)
        {
            _created.Add(1, new KeyValuePair<string, object?>("transport", TransportTag(kind)));
        }
    }

    internal void SignedIn(SessionCredentialKind kind)
    {
        if (_signedIn.Enabled)
        {
            _signedIn.Add(1, new KeyValuePair<string, object?>("transport", TransportTag(kind)));
        }
    }

    internal void Revoked(SessionRevocationReason reason)
    {
        if (_revoked.Enabled)
        {
            _revoked.Add(1, new KeyValuePair<string, object?>("reason", reason.TagValue()));
        }
    }

    internal void Expired(int count)
    {
        if (_expired.Enabled && count > 0)
        {
            _expired.Add(count);
        }
    }

    internal void Rejected(string kind, string reason)
    {
        if (_rejected.Enabled)
        {
            _rejected.Add(1, new KeyValuePair<string, object?>("kind", kind), new KeyValuePair<string, object?>("reason", reason));
        }
    }

    internal void GraceAnswered()
    {
        if (_graceAnswered.Enabled)
        {
            _graceAnswered.Add(1);
        }
    }

    internal void NearCacheLookup(string result)
    {
        if (_nearCacheLookups.Enabled)
        {
            _nearCacheLookups.Add(1, new KeyValuePair<string, object?>("result", result));
        }
    }

    internal void NearCacheInvalidation(string source)
    {
        if (_nearCacheInvalidations.Enabled)
        {
            _nearCacheInvalidations.Add(1, new KeyValuePair<string, object?>("source", source));
        }
    }

    internal void CrossOriginRefused(string reason)
    {
        if (_crossOriginRefused.Enabled)
        {
            _crossOriginRefused.Add(1, new KeyValuePair<string, object?>("reason", reason));
        }
    }

    internal void StoreOperation(string store, string operation, long startTimestamp, Exception? error)
    {
        var tags = new TagList
        {
            { "store", store },
            { "operation", operation },
        };
        if (_storeDuration.Enabled)
        {
            _storeDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tags);
        }
        if (error is not null && _storeErrors.Enabled)
        {
            tags.Add("error.type", error.GetType().FullName);
            _storeErrors.Add(1, tags);
        }
    }

    private static string TransportTag(SessionCredentialKind kind) => kind == SessionCredentialKind.AccessToken ? "bearer" : "cookie";
}
