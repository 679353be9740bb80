using Microsoft.Extensions.Logging.Testing;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The hostile-input suite: malformed, forged, foreign, stale and oversized credentials over every channel (the
/// session cookie, <c>Authorization: Bearer</c>, the refresh endpoint), sent by a real client to a real Kestrel server
/// over your store. Each must mean "no session" (anonymous, or 401 with the right challenge), never a 500, never an
/// exception escaping the middleware, never a secret or a recognisable slice of the credential (16 characters) in a log
/// line or a response. Inherit it with the <see cref="StoreKit"/> of a store that
/// implements <see cref="Tokens.ISessionTokenStore"/>.
/// </summary>
/// <remarks>
/// The table's rows run against one server per test class (starting a server per row would cost a minute per store):
/// the first row to run sends every row's requests, in order, and each row then asserts its own outcome, so a failure
/// names its row. <see cref="HttpConformanceTestBase{TKit}.CreateStore"/> is called only by the test that needs a store.
/// </remarks>
public abstract class HostileInputConformanceTests<TKit> : HttpConformanceTestBase<TKit>
    where TKit : StoreKit, new()
{
    private const int Parallelism = 16;
    private const int RequestsPerServer = 25_000;
    private const string KestrelBadRequests = "Microsoft.AspNetCore.Server.Kestrel.BadRequests";

    private static readonly ConcurrentDictionary<Type, Lazy<Task<IReadOnlyDictionary<string, HostileResult>>>> TableRuns = new();

    /// <summary>
    /// How many mutated credentials <see cref="MutatedCredentialsMeanNoSessionOrTheirOwn"/> sends. Default 2,000;
    /// the <c>TESSERA_FUZZ_COUNT</c> environment variable overrides it for every store.
    /// </summary>
    protected int MutationCount => Kit.HostileMutationCount;

    /// <summary>The names of the table's rows (<c>channel/case</c>), one theory case each.</summary>
    public static TheoryData<string> CredentialCases { get; } = new(HostileInputCases.All.Select(c => c.Name));

    /// <summary>Creates no store yet: the test that needs one creates it (see the class remarks).</summary>
    /// <returns>A completed task.</returns>
    public override ValueTask InitializeAsync() => ValueTask.CompletedTask;

    /// <summary>
    /// A hostile credential means no session: anonymous on a cookie route, 401 with the expected
    /// <c>WWW-Authenticate</c> reason on bearer routes (<c>/auth/user</c> and <c>/tokens/logout</c>) and on the refresh
    /// endpoint, or the status Kestrel refuses an oversized or malformed header with, never a 500 or a logged exception,
    /// and nothing of it in a log line or the response. The few rows named as the same credential in another spelling
    /// (which the HTTP layer undoes) must get exactly that credential's session.
    /// </summary>
    /// <param name="credential">The row's name.</param>
    /// <returns>A task.</returns>
    [Theory]
    [MemberData(nameof(CredentialCases))]
    public async Task AHostileCredentialMeansNoSession(string credential)
    {
        var results = await TableRuns.GetOrAdd(GetType(), _ => new Lazy<Task<IReadOnlyDictionary<string, HostileResult>>>(RunTableAsync)).Value;

        var result = results[credential];

        Assert.True(result.Violations.Count == 0, $"{credential}: expected {result.Expected}; sent {result.Sent}; {string.Join("; ", result.Violations)}");
    }

    /// <summary>
    /// Valid cookies, access tokens and refresh tokens mutated at random (seeded: <c>TESSERA_FUZZ_SEED</c> replays a
    /// run) and sent over parallel keep-alive connections: each must mean no session, unless the mutation left the
    /// credential as it was (or spelled it in a way the HTTP layer undoes), in which case it must get exactly that
    /// credential's session. No 500, no error logged, no slice of any credential or key in a log line.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task MutatedCredentialsMeanNoSessionOrTheirOwn()
    {
        await base.InitializeAsync();
        var seed = EnvironmentNumber("TESSERA_FUZZ_SEED") ?? Random.Shared.Next();
        var count = EnvironmentNumber("TESSERA_FUZZ_COUNT") ?? MutationCount;
        var watch = Stopwatch.StartNew();
        MutationSource[] sources;
        string[] secrets;
        await using (var server = await StartHostileServerAsync())
        {
            var setup = await HostileSetup.CreateAsync(server, Clock, Store, Key);
            // Refresh tokens of sessions of their own: a mutation that leaves one valid rotates its session, which must
            // not revoke the access tokens being mutated.
            var erin = await setup.PairAsync("erin");
            var frank = await setup.PairAsync("frank");
            sources =
            [
                new("alice's cookie", HostileChannel.Cookie, setup.Alice.Value, setup.Alice.SessionId),
                new("bob's cookie", HostileChannel.Cookie, setup.Bob.Value, setup.Bob.SessionId),
                new("carol's access token", HostileChannel.Bearer, setup.Carol.Access, setup.Carol.SessionId),
                new("dave's access token", HostileChannel.Bearer, setup.Dave.Access, setup.Dave.SessionId),
                new("erin's refresh token", HostileChannel.Refresh, erin.Refresh, erin.SessionId),
                new("frank's refresh token", HostileChannel.Refresh, frank.Refresh, frank.SessionId),
            ];
            secrets = [.. setup.Secrets, erin.Access, erin.Refresh, frank.Access, frank.Refresh];
        }
        var fuzzer = new MutationFuzzer(seed, sources);
        var tally = new MutationTally();
        for (var start = 0; start < count && tally.Violations.Count < 20; start += RequestsPerServer)
        {
            var batch = Enumerable.Range(start, Math.Min(RequestsPerServer, count - start)).Select(fuzzer.Next).ToList();
            await RunMutationsAsync(batch, sources, secrets, tally);
        }
        watch.Stop();

        var summary = $"seed {seed} (set TESSERA_FUZZ_SEED={seed} to replay), {tally.Sent} of {count} mutations in {watch.Elapsed.TotalSeconds:F1} s: "
            + $"{tally.Rejected} rejected, {tally.StillValid} still valid (unchanged or an equivalent spelling) and granted their own session, "
            + $"{tally.EquivalentRefused} equivalent spellings refused";
        if (Environment.GetEnvironmentVariable("TESSERA_FUZZ_REPORT") is { Length: > 0 } report)
        {
            await File.AppendAllTextAsync(report, $"{GetType().Name}: {summary}{Environment.NewLine}");
        }
        Assert.True(tally.Violations.IsEmpty, $"{summary}; violations:\n{string.Join('\n', tally.Violations.Take(20))}");
    }

    private Task<TesseraTestServer> StartHostileServerAsync() =>
        TesseraTestServer.StartAsync(Store, Clock, [Key], bearerTokens: true, authentication: true);

    private static int? EnvironmentNumber(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    private async Task<IReadOnlyDictionary<string, HostileResult>> RunTableAsync()
    {
        await base.InitializeAsync();
        var runs = new List<HostileResult>();
        HostileSetup setup;
        int setupEnd;
        await using (var server = await StartHostileServerAsync())
        {
            setup = await HostileSetup.CreateAsync(server, Clock, Store, Key);
            using var client = new HostileHttpClient(server.Address);
            setupEnd = server.Logs.GetSnapshot().Count;
            foreach (var hostile in HostileInputCases.All)
            {
                var logStart = server.Logs.GetSnapshot().Count;
                HostileResult result;
                try
                {
                    result = new HostileResult(hostile, await hostile.Prepare(setup), logStart);
                    await SendAsync(result, setup, client);
                }
                catch (Exception e) when (e is HttpRequestException or InvalidOperationException or IOException)
                {
                    // One row's failure (say the server dropped the connection) is that row's, not the whole table's.
                    result = new HostileResult(hostile, HostileInput.Of(), logStart);
                    result.Violations.Add($"the request failed: {e.GetType().Name}: {e.Message}");
                }
                runs.Add(result);
            }
        }
        // Read once the server has stopped, so lines logged after a response went out are in too.
        CheckLogs(runs, [.. setup.Server.Logs.GetSnapshot()], setupEnd, setup);
        return runs.ToDictionary(r => r.Case.Name, StringComparer.Ordinal);
    }

    private static async Task SendAsync(HostileResult result, HostileSetup setup, HostileHttpClient client)
    {
        var (hostile, input) = (result.Case, result.Input);
        switch (hostile.Channel)
        {
            case HostileChannel.Cookie:
                {
                    var header = input.RawHeader ?? string.Join("; ", input.Credentials.Select(c => $"{setup.CookieName}={c}"));
                    result.Sent = "Cookie: " + MutationFuzzer.Show(header);
                    var response = await client.SendAsync(HttpMethod.Get, "/id", cookie: header, latin1: input.Latin1);
                    result.Check("GET /id", response, hostile.Expect.Outcome switch
                    {
                        HostileOutcome.NoSession => response.Status == 200 && response.Body == "(new)",
                        HostileOutcome.SameSession => response.Status == 200 && response.Body == input.SessionId,
                        _ => response.Status == hostile.Expect.Status,
                    });
                    break;
                }
            case HostileChannel.Bearer:
                {
                    string[] values = input.RawHeader is { } raw ? [raw] : [.. input.Credentials.Select(c => "Bearer " + c)];
                    result.Sent = "Authorization: " + MutationFuzzer.Show(string.Join(" | ", values));
                    var user = await client.SendAsync(HttpMethod.Get, "/auth/user", authorization: values, latin1: input.Latin1);
                    result.Check("GET /auth/user", user, hostile.Expect.Outcome switch
                    {
                        HostileOutcome.NoSession => IsChallenge(user, hostile.Expect.Reason),
                        HostileOutcome.SameSession => user.Status == 200 && user.Body.Split('|') is [_, _, var id, _] && id == input.SessionId,
                        _ => user.Status == hostile.Expect.Status,
                    });
                    if (hostile.Expect.Outcome != HostileOutcome.SameSession)
                    {
                        // Signing out with a rejected token must be refused the same way (and revoke nothing).
                        var logout = await client.SendAsync(HttpMethod.Post, "/tokens/logout", authorization: values, latin1: input.Latin1);
                        result.Check("POST /tokens/logout", logout, hostile.Expect.Outcome == HostileOutcome.NoSession
                            ? IsChallenge(logout, hostile.Expect.Reason)
                            : logout.Status == hostile.Expect.Status);
                    }
                    break;
                }
            default:
                {
                    var body = JsonSerializer.Serialize(new { refreshToken = input.Credentials[0] });
                    result.Sent = "POST /tokens/refresh " + MutationFuzzer.Show(body);
                    var response = await client.SendAsync(HttpMethod.Post, "/tokens/refresh", json: body);
                    result.Check("POST /tokens/refresh", response, hostile.Expect.Outcome == HostileOutcome.NoSession
                        ? IsChallenge(response, hostile.Expect.Reason)
                        : response.Status == hostile.Expect.Status);
                    break;
                }
        }
    }

    private static bool IsChallenge(HostileResponse response, string? reason) =>
        response.Status == 401
        && response.Challenge == (reason is null ? "Bearer" : $"Bearer error=\"invalid_token\", error_description=\"{reason}\"");

    // Attributes log entries to the row whose requests were in flight when they were written: errors by position, and
    // slices of credentials wherever they appear. Kestrel's bad-request diagnostics (category
    // Microsoft.AspNetCore.Server.Kestrel.BadRequests, Debug) quote up to 128 bytes of a header line Kestrel refused, and
    // may be written after the client has its 400: those lines are Kestrel's, about requests Tessera never saw (a row
    // that expects a session or none fails on its status if Kestrel refuses it), so they are left out of the slice check.
    private static void CheckLogs(List<HostileResult> runs, FakeLogRecord[] entries, int setupEnd, HostileSetup setup)
    {
        var starts = runs.Select(r => r.LogStart).ToArray();
        HostileResult? Owner(int index)
        {
            var at = Array.BinarySearch(starts, index);
            at = at >= 0 ? at : ~at - 1;
            // Several rows may share a start (rows that log nothing); the last of them is the one in flight.
            while (at >= 0 && at + 1 < starts.Length && starts[at + 1] == starts[at])
            {
                at++;
            }
            return at < 0 ? null : runs[at];
        }
        var scan = new HostileLogScan(entries, (_, entry) => entry.Category != KestrelBadRequests);
        var setupProblems = new List<string>();
        void Report(int index, string problem)
        {
            var text = $"log entry #{index} ({entries[index].Category}, {entries[index].Level}) {problem}: {MutationFuzzer.Show(entries[index].Message)}";
            if (Owner(index) is { } owner && index >= setupEnd)
            {
                owner.Violations.Add(text);
            }
            else
            {
                setupProblems.Add(text);
            }
        }
        for (var i = 0; i < entries.Length; i++)
        {
            if (HostileLogScan.IsFailure(entries[i]))
            {
                Report(i, "is an error");
            }
        }
        foreach (var secret in setup.Secrets)
        {
            if (scan.Find(secret) is { } leak)
            {
                Report(leak.Entry, $"holds '{leak.Slice}' of a valid credential or the key");
            }
        }
        foreach (var id in setup.SessionIds)
        {
            for (var i = 0; i < entries.Length; i++)
            {
                if (HostileLogScan.Text(entries[i]).Contains(id, StringComparison.Ordinal))
                {
                    Report(i, "names a session by its raw id");
                }
            }
        }
        foreach (var run in runs)
        {
            foreach (var credential in run.Input.Credentials.Append(run.Input.RawHeader ?? string.Empty))
            {
                if (scan.Find(credential) is { } leak)
                {
                    run.Violations.Add($"log entry #{leak.Entry} ({entries[leak.Entry].Category}) holds '{MutationFuzzer.Show(leak.Slice)}' of the presented credential");
                }
            }
            run.Violations.AddRange(setupProblems);
        }
    }

    private async Task RunMutationsAsync(List<Mutation> batch, MutationSource[] sources, string[] secrets, MutationTally tally)
    {
        var server = await StartHostileServerAsync();
        try
        {
            using var client = new HostileHttpClient(server.Address, Parallelism);
            var cookieName = server.CookieName;
            // The sources themselves first: if they were not accepted, every rejection below would prove nothing.
            foreach (var source in sources)
            {
                var check = await SendMutationAsync(client, cookieName, new Mutation(-1, source, source.Channel, source.Credential, "none"));
                if (check.Granted != source.SessionId)
                {
                    tally.Violations.Enqueue($"the unmutated {source.Name} got {check.Status} '{MutationFuzzer.Show(check.Body)}' instead of its session");
                }
            }
            await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = Parallelism }, async (mutation, _) =>
                tally.Record(mutation, await SendMutationAsync(client, cookieName, mutation), sources));
        }
        finally
        {
            // Stopped before its log is read, so lines written after a response went out are in too.
            await server.DisposeAsync();
        }

        var entries = server.Logs.GetSnapshot();
        foreach (var entry in entries.Where(HostileLogScan.IsFailure).Take(5))
        {
            tally.Violations.Enqueue($"logged {entry.Level} ({entry.Category}): {MutationFuzzer.Show(HostileLogScan.Text(entry), 400)}");
        }
        var scan = new HostileLogScan(entries, alphabet: HostileLogScan.IsCredentialCharacter);
        foreach (var (secret, what) in secrets.Select(s => (s, "a valid credential or the key")).Concat(batch.Select(m => (m.Text, $"mutation #{m.Index} ({m.Operations} of {m.Source.Name})"))))
        {
            if (scan.Find(secret) is { } leak)
            {
                tally.Violations.Enqueue($"log entry ({entries[leak.Entry].Category}) holds '{MutationFuzzer.Show(leak.Slice)}' of {what}: {MutationFuzzer.Show(entries[leak.Entry].Message)}");
            }
        }
    }


    private static async Task<MutationResponse> SendMutationAsync(HostileHttpClient client, string cookieName, Mutation mutation)
    {
        switch (mutation.Channel)
        {
            case HostileChannel.Cookie:
                {
                    var response = await client.SendAsync(HttpMethod.Get, "/id", cookie: $"{cookieName}={mutation.Text}", allHeaders: false);
                    var rejected = response.Status == 200 && response.Body == "(new)";
                    return new(response.Status, response.Body, rejected, rejected || response.Status != 200 ? null : response.Body);
                }
            case HostileChannel.Bearer:
                {
                    var response = await client.SendAsync(HttpMethod.Get, "/auth/user", authorization: ["Bearer " + mutation.Text], allHeaders: false);
                    var granted = response.Status == 200 && response.Body.Split('|') is [_, _, var id, _] ? id : null;
                    var rejected = response.Status == 401 && response.Challenge.StartsWith("Bearer", StringComparison.Ordinal);
                    return new(response.Status, response.Body, rejected, granted);
                }
            default:
                {
                    var response = await client.SendAsync(HttpMethod.Post, "/tokens/refresh", json: JsonSerializer.Serialize(new { refreshToken = mutation.Text }), allHeaders: false);
                    var granted = response.Status == 200
                        ? HostileCredentials.ReadClaims(JsonDocument.Parse(response.Body).RootElement.GetProperty("accessToken").GetString()!).GetProperty("sid").GetString()
                        : null;
                    var rejected = response.Status == 401 || (response.Status == 400 && mutation.Text.Length == 0);
                    return new(response.Status, response.Body, rejected, granted);
                }
        }
    }
}

/// <summary>What one row of the table sent and got, and what was wrong with it.</summary>
internal sealed class HostileResult(HostileCase hostile, HostileInput input, int logStart)
{
    public HostileCase Case { get; } = hostile;

    public HostileInput Input { get; } = input;

    /// <summary>The number of log entries before the row's first request.</summary>
    public int LogStart { get; } = logStart;

    public HostileExpectation Expected => Case.Expect;

    public string Sent { get; set; } = string.Empty;

    public List<string> Violations { get; } = [];

    /// <summary>Records a violation unless the response is as expected, and checks the response does not echo the credential.</summary>
    public void Check(string request, HostileResponse response, bool expected)
    {
        if (!expected)
        {
            Violations.Add($"{request} got {response.Status} '{MutationFuzzer.Show(response.Body)}' (WWW-Authenticate: {response.Challenge})");
        }
        foreach (var credential in Input.Credentials)
        {
            if (HostileLogScan.FindIn(response.Body + "\n" + response.Headers, credential) is { } echo)
            {
                Violations.Add($"{request} echoed '{MutationFuzzer.Show(echo)}' of the credential");
            }
        }
    }
}

/// <summary>How a mutated credential fared: the status, whether it meant no session, and which session it got if any.</summary>
internal readonly record struct MutationResponse(int Status, string Body, bool Rejected, string? Granted);

/// <summary>The counts of a mutation run and its violations (thread-safe).</summary>
internal sealed class MutationTally
{
    private long _sent;
    private long _rejected;
    private long _stillValid;
    private long _equivalentRefused;

    public long Sent => Interlocked.Read(ref _sent);

    public long Rejected => Interlocked.Read(ref _rejected);

    public long StillValid => Interlocked.Read(ref _stillValid);

    public long EquivalentRefused => Interlocked.Read(ref _equivalentRefused);

    public ConcurrentQueue<string> Violations { get; } = new();

    /// <summary>
    /// Judges one response. A granted session is right only when the mutated text, as the HTTP layer reads it, is a
    /// valid credential of that session on that channel. A rejection is right unless the mutation changed nothing.
    /// </summary>
    public void Record(Mutation mutation, MutationResponse response, IReadOnlyList<MutationSource> sources)
    {
        Interlocked.Increment(ref _sent);
        var read = AsRead(mutation.Channel, mutation.Text);
        var equivalent = sources.FirstOrDefault(s => s.Channel == mutation.Channel && string.Equals(s.Credential, read, StringComparison.Ordinal));
        if (response.Granted is { } session)
        {
            if (equivalent?.SessionId == session)
            {
                Interlocked.Increment(ref _stillValid);
                return;
            }
            Violations.Enqueue($"#{mutation.Index} {mutation.Operations} of {mutation.Source.Name}, sent as {mutation.Channel}, was granted session {session}: {MutationFuzzer.Show(mutation.Text)}");
            return;
        }
        if (!response.Rejected)
        {
            Violations.Enqueue($"#{mutation.Index} {mutation.Operations} of {mutation.Source.Name}, sent as {mutation.Channel}, got {response.Status} '{MutationFuzzer.Show(response.Body)}': {MutationFuzzer.Show(mutation.Text)}");
            return;
        }
        if (mutation.IsUnchanged)
        {
            Violations.Enqueue($"#{mutation.Index} {mutation.Operations} left {mutation.Source.Name} unchanged, yet it was refused");
            return;
        }
        Interlocked.Increment(ref equivalent is null ? ref _rejected : ref _equivalentRefused);
    }

    // The credential as the server's HTTP layer hands it over: a cookie value ends at ';', loses optional whitespace and
    // is percent-decoded (ASP.NET Core); a header value loses optional whitespace, and Tessera trims the spaces between
    // the scheme and the token; a JSON string is exact.
    private static string AsRead(HostileChannel channel, string text) => channel switch
    {
        HostileChannel.Cookie => Uri.UnescapeDataString(text.Split(';')[0].Trim(' ', '\t')),
        HostileChannel.Bearer => text.Trim(' ', '\t'),
        _ => text,
    };
}
