using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Tessera.Soak;

/// <summary>One memory and store sample of a target.</summary>
/// <param name="T">Run seconds.</param>
/// <param name="RssKb">The demo's VmRSS, null when it was not sampled or is gone.</param>
/// <param name="Store">The store's size, null when not sampled or unreachable.</param>
internal sealed record Sample(double T, long? RssKb, StoreSize? Store);

/// <summary>Something the client saw that is wrong even when the status was right, kept for the report.</summary>
internal sealed record Anomaly(double At, string What);

/// <summary>
/// The traffic against one demo instance: a rotation of cookie and token sessions (<see cref="Slot"/>) driven by
/// <see cref="SoakOptions.Concurrency"/> workers at <see cref="SoakOptions.Rate"/> requests per second, each session
/// signed in, read, written, refreshed and finally read back and signed out or abandoned to expire.
/// </summary>
internal sealed class TargetRun : IAsyncDisposable
{
    private const string CounterName = "hits";

    // The demo's cart holds at most 100 items (a 400 beyond): a session that has this many acknowledged stops adding,
    // leaving room for writes that failed but may have landed. Pinned sessions reach it; rotating ones rarely do.
    private const int CartWritesPerSession = 90;

    private const double PendingRetrySeconds = 2;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    private readonly SoakOptions _options;
    private readonly int _index;
    private readonly RunClock _clock;
    private readonly HttpClient _http;
    private readonly Pacer _pacer;
    private readonly Channel<Slot> _queue = Channel.CreateUnbounded<Slot>();
    private readonly List<Slot> _slots = [];
    private readonly Lock _lock = new();
    // Sessions set aside (not readable when they ended, or retired), each with when to try reading it back again.
    private readonly List<(ClientSession Session, double Due)> _pending = [];
    private readonly List<Verification> _verifications = [];
    private readonly List<Anomaly> _anomalies = [];
    private readonly List<Sample> _samples = [];
    private string? _cookieName;

    public TargetRun(SoakOptions options, TargetSpec spec, int index, RunClock clock)
    {
        _options = options;
        Spec = spec;
        _index = index;
        _clock = clock;
        Recorder = new Recorder(clock);
        Probe = StoreProbe.For(spec);
        _pacer = new Pacer(options.Rate);
        _http = new HttpClient(new SocketsHttpHandler
        {
            UseCookies = false,
            AllowAutoRedirect = false,
            MaxConnectionsPerServer = options.Concurrency + 2,
            ConnectTimeout = TimeSpan.FromSeconds(5),
        })
        {
            BaseAddress = spec.Url,
            Timeout = RequestTimeout,
        };
        for (var i = 0; i < options.Slots; i++)
        {
            // Every third slot holds a token session; the pinned ones are spread over both kinds.
            _slots.Add(new Slot(i, token: i % 3 == 2, pinned: i < options.Pinned));
        }
    }

    public TargetSpec Spec { get; }

    public Recorder Recorder { get; }

    public StoreProbe? Probe { get; }

    public long? StartTicks { get; private set; }

    public long? EndTicks { get; private set; }

    public int SignIns;

    public int SignOuts;

    public int Abandoned;

    public int Retired;

    public IReadOnlyList<Verification> Verifications
    {
        get
        {
            lock (_lock)
            {
                return [.. _verifications];
            }
        }
    }

    public IReadOnlyList<Anomaly> Anomalies
    {
        get
        {
            lock (_lock)
            {
                return [.. _anomalies];
            }
        }
    }

    public IReadOnlyList<Sample> Samples
    {
        get
        {
            lock (_lock)
            {
                return [.. _samples];
            }
        }
    }

    /// <summary>The longest time between two good answers of one session, over every session read back.</summary>
    public double MaxSessionGap { get; private set; }

    /// <summary>Signs every slot in and writes once to each, in parallel, unpaced. Fails if a slot cannot be signed in.</summary>
    public async Task SetUpAsync(CancellationToken cancellationToken)
    {
        StartTicks = Spec.Pid is { } pid ? ProcessProbe.StartTicks(pid) : null;
        await Parallel.ForEachAsync(_slots, new ParallelOptions { MaxDegreeOfParallelism = _options.Concurrency, CancellationToken = cancellationToken },
            async (slot, token) =>
            {
                var random = new Random(_options.Seed * 7919 + _index * 104_729 + slot.Index);
                for (var attempt = 0; slot.Current is null; attempt++)
                {
                    if (attempt == 5)
                    {
                        throw new InvalidOperationException($"{Spec.Name}: could not sign a session in at {Spec.Url} (see the errors above).");
                    }
                    await SignInAsync(slot, random, paced: false, token);
                }
                var session = slot.Current;
                for (var attempt = 0; session.Writes.Count == 0; attempt++)
                {
                    if (attempt == 5)
                    {
                        throw new InvalidOperationException($"{Spec.Name}: could not write to a new session at {Spec.Url}.");
                    }
                    await AddToCartAsync(slot, session, paced: false, token);
                }
            });
        foreach (var slot in _slots)
        {
            _queue.Writer.TryWrite(slot);
        }
    }

    /// <summary>Runs the workers until <paramref name="until"/> (run seconds); each finishes the turn it is in.</summary>
    public async Task DriveAsync(double until, CancellationToken cancellationToken)
    {
        var workers = Enumerable.Range(0, _options.Concurrency).Select(w => Task.Run(() => WorkerAsync(w, until, cancellationToken), cancellationToken));
        await Task.WhenAll(workers);
    }

    /// <summary>Takes one memory and store sample.</summary>
    public async Task SampleAsync(CancellationToken cancellationToken)
    {
        var t = _clock.Now;
        var rss = Spec.Pid is { } pid ? ProcessProbe.RssKb(pid) : null;
        var store = Probe is null ? null : await Probe.ReadAsync(cancellationToken);
        lock (_lock)
        {
            _samples.Add(new Sample(Math.Round(t, 1), rss, store));
        }
    }

    /// <summary>
    /// Reads back every session still in use and every one set aside. A read that fails or shows an acknowledged write
    /// missing is tried twice more, a second apart; then what it showed is final: the missing writes are lost, and a
    /// session that cannot be read at all loses every write it had.
    /// </summary>
    public async Task FinishAsync(CancellationToken cancellationToken)
    {
        List<ClientSession> sessions;
        lock (_lock)
        {
            sessions = [.. _slots.Where(s => s.Current is not null).Select(s => s.Current!), .. _pending.Select(p => p.Session)];
            _pending.Clear();
        }
        await Parallel.ForEachAsync(sessions, new ParallelOptions { MaxDegreeOfParallelism = _options.Concurrency, CancellationToken = cancellationToken },
            async (session, token) =>
            {
                var result = await FreshVerifyAsync(session, paced: false, token);
                for (var attempt = 1; attempt < 3 && result.Failure is not null; attempt++)
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), token);
                    result = await FreshVerifyAsync(session, paced: false, token);
                }
                if (result.Failure is not null)
                {
                    // Final: writes a read showed missing are lost; a session that could not be read at all lost every one.
                    Verified(session, result.Missing ?? session.Writes, result.Missing is null ? result.Failure : null);
                }
            });
        EndTicks = Spec.Pid is { } pid ? ProcessProbe.StartTicks(pid) : null;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (Probe is not null)
        {
            await Probe.DisposeAsync();
        }
    }

    private async Task WorkerAsync(int worker, double until, CancellationToken cancellationToken)
    {
        var random = new Random(_options.Seed * 31 + _index * 1_000 + worker);
        while (_clock.Now < until && !cancellationToken.IsCancellationRequested)
        {
            if (TakeDuePending() is { } pending)
            {
                await RetryPendingAsync(pending, cancellationToken);
                continue;
            }
            var slot = await _queue.Reader.ReadAsync(cancellationToken);
            try
            {
                await TurnAsync(slot, random, cancellationToken);
            }
            finally
            {
                _queue.Writer.TryWrite(slot);
            }
        }
    }

    private async Task TurnAsync(Slot slot, Random random, CancellationToken cancellationToken)
    {
        if (slot.Current is not { } session)
        {
            await SignInAsync(slot, random, paced: true, cancellationToken);
            return;
        }
        if (!slot.Pinned && session.RequestsLeft <= 0)
        {
            await EndAsync(slot, session, random, cancellationToken);
            return;
        }
        session.RequestsLeft--;
        var roll = random.NextDouble();
        if (session.IsToken)
        {
            if (_clock.Now - session.AccessIssuedAt > session.AccessLifetime / 2 || roll >= 0.85)
            {
                await RefreshAsync(slot, session, cancellationToken);
            }
            else if (roll < 0.5)
            {
                await ReadUserAsync(slot, session, "GET /api/me", "api/me", cancellationToken);
            }
            else if (roll < 0.6)
            {
                await ReadCartAsync(slot, session, "GET /api/cart", "api/cart", cancellationToken);
            }
            else if (session.Items.Count < CartWritesPerSession)
            {
                await AddToCartAsync(slot, session, paced: true, cancellationToken);
            }
            else
            {
                await ReadCartAsync(slot, session, "GET /api/cart", "api/cart", cancellationToken);
            }
            return;
        }
        if (roll < 0.5)
        {
            await ReadUserAsync(slot, session, "GET /me", "me", cancellationToken);
        }
        else if (roll < 0.6)
        {
            await ReadCartAsync(slot, session, "GET /cart", "cart", cancellationToken);
        }
        else if (roll < 0.8 && session.Items.Count < CartWritesPerSession)
        {
            await AddToCartAsync(slot, session, paced: true, cancellationToken);
        }
        else
        {
            await IncrementAsync(slot, session, cancellationToken);
        }
    }

    private async Task SignInAsync(Slot slot, Random random, bool paced, CancellationToken cancellationToken)
    {
        var user = slot.Pinned ? $"pinned-{slot.Index}" : $"soak-{slot.Index}-{slot.Generation++}";
        var body = Json(new { user });
        if (slot.Token)
        {
            var reply = await SendAsync(RequestKind.SignIn, "POST /api/login", HttpMethod.Post, "api/login", null, body, 200, paced, cancellationToken,
                r => ParseTokens(r.Body) is null ? "no token pair in the answer" : null);
            if (reply.Ok)
            {
                var session = new ClientSession(user, token: true, reply.End) { LastOk = reply.End };
                ApplyTokens(session, ParseTokens(reply.Body)!.Value, reply.End);
                Begin(slot, session, random);
            }
            return;
        }
        var cookieReply = await SendAsync(RequestKind.SignIn, "POST /login", HttpMethod.Post, "login", null, body, 200, paced, cancellationToken,
            r => r.SetCookie is not { Length: > 0 } ? "no session cookie set" : StringProperty(r.Body, "user") != user ? "the answer names another user" : null);
        if (cookieReply.Ok)
        {
            Begin(slot, new ClientSession(user, token: false, cookieReply.End) { Cookie = cookieReply.SetCookie, LastOk = cookieReply.End }, random);
        }
    }

    private void Begin(Slot slot, ClientSession session, Random random)
    {
        session.RequestsLeft = random.Next(_options.MinSessionRequests, _options.MaxSessionRequests + 1);
        slot.Current = session;
        Interlocked.Increment(ref SignIns);
    }

    /// <summary>The end of a rotating session: read back, then signed out (its credential must then be dead) or abandoned.</summary>
    private async Task EndAsync(Slot slot, ClientSession session, Random random, CancellationToken cancellationToken)
    {
        slot.Current = null;
        if ((await VerifyAsync(session, paced: true, cancellationToken)).Failure is not null)
        {
            // Not readable now, or not all there (an outage?): read it back again every few seconds, and at the end.
            SetAside(session);
            return;
        }
        if (random.NextDouble() >= 0.5)
        {
            Interlocked.Increment(ref Abandoned);
            return;
        }
        if (session.IsToken)
        {
            var bearer = Bearer(session.AccessToken!);
            var reply = await SendAsync(RequestKind.SignOut, "POST /api/logout", HttpMethod.Post, "api/logout", bearer, null, 204, paced: true, cancellationToken);
            if (reply.Ok)
            {
                Interlocked.Increment(ref SignOuts);
                await SendAsync(RequestKind.Verify, "GET /api/me after sign-out", HttpMethod.Get, "api/me", bearer, null, 401, paced: true, cancellationToken);
                await SendAsync(RequestKind.Verify, "POST /api/refresh after sign-out", HttpMethod.Post, "api/refresh", null,
                    Json(new { refreshToken = session.RefreshToken }), 401, paced: true, cancellationToken);
            }
            return;
        }
        var cookie = CookieHeader(session);
        var logout = await SendAsync(RequestKind.SignOut, "POST /logout", HttpMethod.Post, "logout", cookie, null, 204, paced: true, cancellationToken);
        if (logout.Ok)
        {
            Interlocked.Increment(ref SignOuts);
            await SendAsync(RequestKind.Verify, "GET /me after sign-out", HttpMethod.Get, "me", cookie, null, 401, paced: true, cancellationToken);
        }
    }

    /// <summary>
    /// Reads the session's data back. <c>Failure</c> is null when every acknowledged write is there; otherwise it says
    /// why not, and <c>Missing</c> lists the writes not found when the reads themselves were answered (a request the
    /// demo ran without its session, as it does when the store fails, shows an empty cart: only a read after the outage
    /// can tell).
    /// </summary>
    private async Task<(string? Failure, List<AckedWrite>? Missing)> VerifyAsync(ClientSession session, bool paced, CancellationToken cancellationToken)
    {
        HashSet<string>? items;
        long? counter = null;
        var (route, path) = session.IsToken ? ("GET /api/cart (read back)", "api/cart") : ("GET /cart (read back)", "cart");
        var cart = await SendAsync(RequestKind.Verify, route, HttpMethod.Get, path, Credential(session), null, 200, paced, cancellationToken,
            r => MissingNote(session, Items(r.Body), null));
        if (cart.Status != "200" || Items(cart.Body) is null)
        {
            return ($"{route} answered {cart.Status}", null);
        }
        items = Items(cart.Body)!;
        if (!session.IsToken && session.Writes.Any(w => w.Item is null))
        {
            var counters = await SendAsync(RequestKind.Verify, "GET /counters (read back)", HttpMethod.Get, "counters", CookieHeader(session), null, 200, paced, cancellationToken,
                r => LongProperty(r.Body, CounterName) is { } value && value >= session.Counter ? null : $"the counter is {LongProperty(r.Body, CounterName)}, acknowledged {session.Counter}");
            if (counters.Status != "200")
            {
                return ($"GET /counters answered {counters.Status}", null);
            }
            counter = LongProperty(counters.Body, CounterName);
        }
        var missing = session.Missing(items, counter);
        if (missing.Count > 0)
        {
            return ($"{missing.Count} acknowledged writes not found", missing);
        }
        Verified(session, [], null);
        return (null, null);
    }

    private void Verified(ClientSession session, IReadOnlyList<AckedWrite> lost, string? failure)
    {
        lock (_lock)
        {
            _verifications.Add(new Verification(session.User, session.IsToken, _clock.Now, [.. session.Writes], [.. lost], failure));
            MaxSessionGap = Math.Max(MaxSessionGap, session.MaxGap);
        }
    }

    private async Task ReadUserAsync(Slot slot, ClientSession session, string route, string path, CancellationToken cancellationToken)
    {
        var reply = await SendAsync(RequestKind.Read, route, HttpMethod.Get, path, Credential(session), null, 200, paced: true, cancellationToken,
            r => StringProperty(r.Body, "user") == session.User ? null : "the answer names another user");
        Settle(slot, session, reply);
    }

    private async Task ReadCartAsync(Slot slot, ClientSession session, string route, string path, CancellationToken cancellationToken)
    {
        var reply = await SendAsync(RequestKind.Read, route, HttpMethod.Get, path, Credential(session), null, 200, paced: true, cancellationToken,
            r => MissingNote(session, Items(r.Body), null));
        Settle(slot, session, reply);
    }

    private async Task AddToCartAsync(Slot slot, ClientSession session, bool paced, CancellationToken cancellationToken)
    {
        var item = $"{session.User}.{session.NextItem++}";
        var (route, path) = session.IsToken ? ("POST /api/cart", "api/cart") : ("POST /cart", "cart");
        var reply = await SendAsync(RequestKind.Write, route, HttpMethod.Post, path, Credential(session), Json(new { item }), 200, paced, cancellationToken,
            r => Items(r.Body) is { } items && items.Contains(item) ? MissingNote(session, items, null) : "the answer's cart lacks the item just added");
        if (Settle(slot, session, reply) && reply.Ok)
        {
            session.AckItem(item, reply.End);
        }
    }

    private async Task IncrementAsync(Slot slot, ClientSession session, CancellationToken cancellationToken)
    {
        var reply = await SendAsync(RequestKind.Write, "POST /counter", HttpMethod.Post, $"counter/{CounterName}", Credential(session), null, 200, paced: true, cancellationToken,
            // Each acknowledged increment must show: a value at or below the last acknowledged one means one was lost.
            r => LongProperty(r.Body, "value") is { } value && value > session.Counter ? null : $"the counter went from {session.Counter} to {LongProperty(r.Body, "value")}");
        if (Settle(slot, session, reply) && reply.Ok)
        {
            session.AckCounter(LongProperty(reply.Body, "value")!.Value, reply.End);
        }
    }

    private async Task RefreshAsync(Slot slot, ClientSession session, CancellationToken cancellationToken)
    {
        var reply = await SendRefreshAsync(session, paced: true, cancellationToken);
        if (Settle(slot, session, reply) && reply.Ok)
        {
            ApplyTokens(session, ParseTokens(reply.Body)!.Value, reply.End);
        }
    }

    private Task<Reply> SendRefreshAsync(ClientSession session, bool paced, CancellationToken cancellationToken) =>
        SendAsync(RequestKind.Refresh, "POST /api/refresh", HttpMethod.Post, "api/refresh", null, Json(new { refreshToken = session.RefreshToken }), 200, paced, cancellationToken,
            r => ParseTokens(r.Body) is null ? "no token pair in the answer" : null);

    /// <summary>
    /// Reads a session back, first refreshing a token session's pair when the access token is past half its life (a
    /// session set aside gets no other traffic, and its tokens must not expire while it waits).
    /// </summary>
    private async Task<(string? Failure, List<AckedWrite>? Missing)> FreshVerifyAsync(ClientSession session, bool paced, CancellationToken cancellationToken)
    {
        if (session.IsToken && _clock.Now - session.AccessIssuedAt > session.AccessLifetime / 2)
        {
            var reply = await SendRefreshAsync(session, paced, cancellationToken);
            if (!reply.Ok)
            {
                return ($"POST /api/refresh answered {reply.Status}", null);
            }
            session.Ok(reply.End);
            ApplyTokens(session, ParseTokens(reply.Body)!.Value, reply.End);
        }
        return await VerifyAsync(session, paced, cancellationToken);
    }

    /// <summary>One more attempt at reading back a session set aside; it goes back in line (two seconds on) if it fails.</summary>
    private async Task RetryPendingAsync(ClientSession session, CancellationToken cancellationToken)
    {
        if ((await FreshVerifyAsync(session, paced: true, cancellationToken)).Failure is not null)
        {
            lock (_lock)
            {
                _pending.Add((session, _clock.Now + PendingRetrySeconds));
            }
        }
    }

    private ClientSession? TakeDuePending()
    {
        lock (_lock)
        {
            var now = _clock.Now;
            var at = _pending.FindIndex(p => p.Due <= now);
            if (at < 0)
            {
                return null;
            }
            var session = _pending[at].Session;
            _pending.RemoveAt(at);
            return session;
        }
    }

    /// <summary>
    /// Bookkeeping after a request of a session. A new cookie on anything but a sign-in means the demo put the request in
    /// another session (it could not load this one): both are set aside to be read back, and the slot signs in afresh. Three
    /// unexpected 401s in a row retire a rotating session the same way. Returns false when the session was replaced.
    /// </summary>
    private bool Settle(Slot slot, ClientSession session, Reply reply)
    {
        if (!session.IsToken && reply.SetCookie is { Length: > 0 } cookie && cookie != session.Cookie)
        {
            Note($"{reply.Route} for {session.User} answered {reply.Status} with a new session cookie: the request ran in another session");
            var stray = new ClientSession(session.User + " (replacement)", token: false, reply.End) { Cookie = cookie, LastOk = reply.End };
            SetAside(stray);
            SetAside(session);
            slot.Current = null;
            return false;
        }
        if (reply.Ok)
        {
            session.Ok(reply.End);
        }
        else if (reply.Status == "401" && ++session.Unauthorized >= 3 && !slot.Pinned)
        {
            SetAside(session);
            slot.Current = null;
        }
        return true;
    }

    private void SetAside(ClientSession session)
    {
        lock (_lock)
        {
            _pending.Add((session, _clock.Now + PendingRetrySeconds));
        }
        Interlocked.Increment(ref Retired);
    }

    private void Note(string what)
    {
        lock (_lock)
        {
            _anomalies.Add(new Anomaly(Math.Round(_clock.Now, 2), what));
        }
    }

    private static string? MissingNote(ClientSession session, HashSet<string>? items, long? counter)
    {
        if (items is null)
        {
            return "no items in the answer";
        }
        var missing = session.Missing(items, counter ?? long.MaxValue);
        return missing.Count == 0 ? null : $"{missing.Count} acknowledged write(s) missing, first {missing[0].Item ?? "counter " + missing[0].Counter}";
    }

    private async Task<Reply> SendAsync(RequestKind kind, string route, HttpMethod method, string path, (string Name, string Value)? credential,
        string? json, int expected, bool paced, CancellationToken cancellationToken, Func<Reply, string?>? check = null)
    {
        if (paced)
        {
            await _pacer.WaitAsync(cancellationToken);
        }
        using var request = new HttpRequestMessage(method, path);
        if (credential is { } header)
        {
            request.Headers.TryAddWithoutValidation(header.Name, header.Value);
        }
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
        }
        var start = _clock.Now;
        string status;
        var body = "";
        string? setCookie = null;
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken);
            body = await response.Content.ReadAsStringAsync(cancellationToken);
            status = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
            setCookie = SessionCookie(response);
        }
        catch (HttpRequestException)
        {
            status = "transport";
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            status = "timeout";
        }
        var end = _clock.Now;
        var reply = new Reply(route, status, body, setCookie, end);
        var expectedText = expected.ToString(CultureInfo.InvariantCulture);
        var note = status == expectedText && check is not null ? check(reply) : null;
        Recorder.Record(kind, route, start, end, status, expected, note);
        return reply with { Ok = status == expectedText && note is null };
    }

    /// <summary>The session cookie a response sets: its <c>name=value</c>, "" when it clears it, null when it sets none.</summary>
    private string? SessionCookie(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Set-Cookie", out var values))
        {
            return null;
        }
        foreach (var value in values)
        {
            var pair = value.Split(';', 2)[0].Trim();
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                continue;
            }
            var name = pair[..equals];
            // The demo's only cookie is the session's; its name is learned from the first sign-in.
            _cookieName ??= name;
            if (name == _cookieName)
            {
                return equals == pair.Length - 1 ? "" : pair;
            }
        }
        return null;
    }

    private static (string Name, string Value) Credential(ClientSession session) =>
        session.IsToken ? Bearer(session.AccessToken!) : CookieHeader(session);

    private static (string Name, string Value) CookieHeader(ClientSession session) => ("Cookie", session.Cookie!);

    private static (string Name, string Value) Bearer(string token) => ("Authorization", "Bearer " + token);

    private void ApplyTokens(ClientSession session, (string Access, string Refresh, DateTimeOffset AccessExpires) pair, double now)
    {
        session.AccessToken = pair.Access;
        session.RefreshToken = pair.Refresh;
        session.AccessIssuedAt = now;
        session.AccessLifetime = Math.Max(1, (pair.AccessExpires - _clock.StartedAt).TotalSeconds - now);
    }

    private static string Json<T>(T value) => JsonSerializer.Serialize(value);

    private static JsonElement? Parse(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object ? document.RootElement.Clone() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? StringProperty(string body, string name) =>
        Parse(body) is { } root && root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static long? LongProperty(string body, string name) =>
        Parse(body) is { } root && root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) ? n : null;

    private static HashSet<string>? Items(string body) =>
        Parse(body) is { } root && root.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Array
            ? [.. items.EnumerateArray().Where(i => i.ValueKind == JsonValueKind.String).Select(i => i.GetString()!)]
            : null;

    private static (string Access, string Refresh, DateTimeOffset AccessExpires)? ParseTokens(string body) =>
        Parse(body) is { } root
        && root.TryGetProperty("accessToken", out var access) && access.ValueKind == JsonValueKind.String
        && root.TryGetProperty("refreshToken", out var refresh) && refresh.ValueKind == JsonValueKind.String
        && root.TryGetProperty("accessTokenExpiresAt", out var expires) && expires.TryGetDateTimeOffset(out var at)
            ? (access.GetString()!, refresh.GetString()!, at)
            : null;

    /// <summary>A request's outcome: its status (or <c>transport</c>/<c>timeout</c>), body, session cookie and end time.</summary>
    private sealed record Reply(string Route, string Status, string Body, string? SetCookie, double End)
    {
        public bool Ok { get; init; }
    }
}

/// <summary>Spaces requests evenly at a fixed rate; a late start is not made up with a burst.</summary>
internal sealed class Pacer(double perSecond)
{
    private readonly long _interval = (long)(System.Diagnostics.Stopwatch.Frequency / perSecond);
    private readonly Lock _lock = new();
    private long _next;

    public async ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        long due, now;
        lock (_lock)
        {
            now = System.Diagnostics.Stopwatch.GetTimestamp();
            due = Math.Max(_next, now);
            _next = due + _interval;
        }
        var wait = TimeSpan.FromSeconds((double)(due - now) / System.Diagnostics.Stopwatch.Frequency);
        if (wait > TimeSpan.FromMilliseconds(1))
        {
            await Task.Delay(wait, cancellationToken);
        }
    }
}
