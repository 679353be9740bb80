using System.Diagnostics;
using System.Net;

namespace Tessera.Demo.Tests;

/// <summary>
/// Who is an operator: only a session signed in with the operator password through the rate-limited form, never a
/// user name; and without an operator password configured, nobody, with every operator route a 404.
/// </summary>
public sealed class OperatorAccessTests
{
    [Theory]
    [InlineData("Development")]
    [InlineData("Production")]
    public async Task WithoutAnOperatorPasswordEveryOperatorRouteIsNotFound(string environment)
    {
        await using var server = await DemoServer.StartAsync(environment: environment, extra: $"--Tessera:Keys:0={SigningKeyRing.GenerateBase64Key()}");
        using var admin = server.CreateClient();
        await admin.JsonAsync(HttpMethod.Post, "/login", new { user = "admin" });

        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, "/admin/sessions"),
            (HttpMethod.Get, "/admin/sessions?user=alice"),
            (HttpMethod.Post, $"/admin/sessions/{Guid.NewGuid():D}/revoke"),
            (HttpMethod.Get, "/admin/sign-in"),
            (HttpMethod.Post, "/admin/sign-in"),
        })
        {
            using var response = await admin.SendAsync(method, path, method == HttpMethod.Post ? new FormUrlEncodedContent([new("password", Operator.Password)]) : null);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{method} {path} in {environment}: {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task PasswordlessSignInAsAdminIsForbiddenOnTheOperatorPageAndTheOperatorsNameIsRefused()
    {
        await using var server = await DemoServer.StartAsync(extra: Operator.Argument);
        using var admin = server.CreateClient();
        using var impostor = server.CreateClient();
        await admin.JsonAsync(HttpMethod.Post, "/login", new { user = "admin" });

        using var page = await admin.GetAsync("/admin/sessions?user=alice");
        using var revoke = await admin.SendAsync(HttpMethod.Post, $"/admin/sessions/{Guid.NewGuid():D}/revoke", new FormUrlEncodedContent([]));
        var cookie = await impostor.JsonAsync(HttpMethod.Post, "/login", new { user = "operator" }, expectedStatus: 400);
        var cased = await impostor.JsonAsync(HttpMethod.Post, "/login", new { user = " Operator " }, expectedStatus: 400);
        var token = await impostor.JsonAsync(HttpMethod.Post, "/api/login", new { user = "operator" }, expectedStatus: 400);

        Assert.Equal(HttpStatusCode.Forbidden, page.StatusCode);
        Assert.Contains("<h1>Not an operator</h1>", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, revoke.StatusCode);
        Assert.All(new[] { cookie, cased, token }, problem => Assert.Contains("operator sign-in", problem.GetProperty("detail").GetString(), StringComparison.Ordinal));
        Assert.Empty(impostor.Cookies);
    }

    [Fact]
    public async Task AWrongOperatorPasswordIsRefusedAndGrantsNothing()
    {
        await using var server = await DemoServer.StartAsync(extra: Operator.Argument);
        using var client = server.CreateClient();

        using var refused = await Operator.SignInAsync(client, "Correct horse battery staple");
        using var empty = await Operator.SignInAsync(client, "");

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("That is not the operator password.", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, empty.StatusCode);
        Assert.DoesNotContain("tessera", client.Cookies.Keys);
        using var page = await client.GetAsync("/admin/sessions");
        Assert.Equal(HttpStatusCode.Unauthorized, page.StatusCode);
    }

    [Fact]
    public async Task TheOperatorPasswordSignsInWithANewCredentialAndOpensTheOperatorPage()
    {
        await using var server = await DemoServer.StartAsync(extra: Operator.Argument);
        using var client = server.CreateClient();
        await client.JsonAsync(HttpMethod.Post, "/cart", new { item = "apple" });
        var anonymousCookie = client.Cookies["tessera"];

        using var signIn = await Operator.SignInAsync(client);
        using var page = await client.GetAsync("/admin/sessions");
        using var stale = new DemoClient(server.BaseAddress);
        stale.Cookies["tessera"] = anonymousCookie;
        using var staleTry = await stale.GetAsync("/admin/sessions");

        Assert.Equal(HttpStatusCode.SeeOther, signIn.StatusCode);
        Assert.Equal("/admin/sessions", signIn.Headers.Location?.OriginalString);
        Assert.NotEqual(anonymousCookie, client.Cookies["tessera"]);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<h1>Sessions (operator)</h1>", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var me = await client.JsonAsync(HttpMethod.Get, "/me");
        Assert.Equal("operator", me.GetProperty("user").GetString());
        Assert.Equal(["operator"], me.GetProperty("roles").EnumerateArray().Select(role => role.GetString()));
        Assert.Equal(HttpStatusCode.Unauthorized, staleTry.StatusCode);
    }

    [Fact]
    public async Task SigningInAsAnotherUserEndsOperatorRights()
    {
        await using var server = await DemoServer.StartAsync(extra: Operator.Argument);
        using var client = server.CreateClient();
        Assert.Equal(HttpStatusCode.SeeOther, (await Operator.SignInAsync(client)).StatusCode);

        await client.JsonAsync(HttpMethod.Post, "/login", new { user = "alice" });
        using var page = await client.GetAsync("/admin/sessions");

        Assert.Equal(HttpStatusCode.Forbidden, page.StatusCode);
        Assert.Equal(["customer"], (await client.JsonAsync(HttpMethod.Get, "/me")).GetProperty("roles").EnumerateArray().Select(role => role.GetString()));
    }

    /// <summary>
    /// The operator page is authorized by the operator role in the session's principal, which no password-less sign-in
    /// grants: not over a cookie, not over a token (whose principal carries the customer role), whatever the name.
    /// </summary>
    [Fact]
    public async Task PasswordlessSignInNeverGrantsTheOperatorRoleOverCookiesOrTokens()
    {
        await using var server = await DemoServer.StartAsync(extra: Operator.Argument);
        using var cookie = server.CreateClient();
        await cookie.JsonAsync(HttpMethod.Post, "/login", new { user = "root" });
        using var bearer = server.CreateClient();
        bearer.AccessToken = (await bearer.JsonAsync(HttpMethod.Post, "/api/login", new { user = "root" })).GetProperty("accessToken").GetString();

        foreach (var client in new[] { cookie, bearer })
        {
            var me = await client.JsonAsync(HttpMethod.Get, bearer == client ? "/api/me" : "/me");
            Assert.Equal(["customer"], me.GetProperty("roles").EnumerateArray().Select(role => role.GetString()));
            using var page = await client.GetAsync("/admin/sessions");
            Assert.Equal(HttpStatusCode.Forbidden, page.StatusCode);
        }
    }

    [Fact]
    public async Task AfterFiveAttemptsFromOneAddressTheSixthIsTooManyRequestsEvenWithTheRightPassword()
    {
        await using var server = await DemoServer.StartAsync(extra: Operator.Argument);
        using var client = server.CreateClient();
        for (var attempt = 1; attempt <= DemoRateLimits.OperatorSignInAttempts; attempt++)
        {
            using var wrong = await Operator.SignInAsync(client, $"guess number {attempt}");
            Assert.True(wrong.StatusCode == HttpStatusCode.Forbidden, $"attempt {attempt}: {(int)wrong.StatusCode}");
        }

        using var limited = await Operator.SignInAsync(client);
        using var page = await client.GetAsync("/admin/sessions");
        using var form = await client.GetAsync("/admin/sign-in");

        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) is > 0 and <= 60);
        Assert.Contains("Too many attempts", await limited.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, page.StatusCode);
        Assert.Equal(HttpStatusCode.OK, form.StatusCode); // only the attempts are counted, not looking at the form
    }

    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::/64")]
    [InlineData("::1", "::/64")]
    public void AttemptsCountPerIPv4AddressAndPerIPv6Network(string address, string partition)
    {
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(address);

        Assert.Equal(partition, DemoRateLimits.ClientPartition(context));
    }

    [Fact]
    public void AMalformedOrWeakOperatorPasswordHashFailsAtStartWithoutShowingIt()
    {
        using var data = new TempDirectory();
        // The password itself instead of its hash, and an old Identity version 2 hash (PBKDF2-SHA1, 1,000 iterations).
        foreach (var value in new[] { Operator.Password.Replace(' ', '-'), "AJNIepVyfwLcFpT4Ptf9HEO71BGqR15Y0hccwOXAADJXEEhzzDGwX9yymUb1v6Z3TQ==" })
        {
            var failure = Assert.Throws<DemoConfigurationException>(() => DemoApp.Build(DemoServer.Arguments("memory", "Development", data.Path, $"--Demo:OperatorPasswordHash={value}")));
            Assert.Contains("Demo:OperatorPasswordHash is not a password hash made by", failure.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(value, failure.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TheOldListOfOperatorNamesFailsAtStartSayingWhatReplacesIt()
    {
        using var data = new TempDirectory();
        var failure = Assert.Throws<DemoConfigurationException>(() => DemoApp.Build(DemoServer.Arguments("memory", "Development", data.Path, "--Demo:Operators:0=carol")));
        Assert.Contains("a user name is no authorization", failure.Message, StringComparison.Ordinal);
        Assert.Contains("Demo:OperatorPasswordHash", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheHashCommandPrintsASaltedHashOfThePasswordAndRefusesAShortOne()
    {
        using var first = new StringWriter();
        using var second = new StringWriter();
        using var shortOutput = new StringWriter();
        using var error = new StringWriter();

        var code = OperatorPassword.RunHashCommand(new StringReader(Operator.Password + "\n"), first, error, terminal: false);
        OperatorPassword.RunHashCommand(new StringReader(Operator.Password + "\n"), second, error, terminal: false);
        var shortCode = OperatorPassword.RunHashCommand(new StringReader("hunter2\n"), shortOutput, error, terminal: false);

        var hash = first.ToString().Trim();
        Assert.Equal(0, code);
        Assert.True(OperatorPassword.IsWellFormed(hash));
        Assert.True(OperatorPassword.Verify(hash, Operator.Password));
        Assert.False(OperatorPassword.Verify(hash, Operator.Password + " "));
        Assert.NotEqual(hash, second.ToString().Trim());
        Assert.Equal(1, shortCode);
        Assert.Empty(shortOutput.ToString());
        Assert.Contains("12 to 256 characters", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheBuiltDemoPrintsTheHashOfAPasswordReadFromStandardInput()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Tessera.Demo.dll"));
        start.ArgumentList.Add("hash-operator-password");
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteLineAsync(Operator.Password);
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        Assert.True(process.ExitCode == 0, await error);
        Assert.True(OperatorPassword.Verify((await output).Trim(), Operator.Password));
        Assert.Contains("Demo__OperatorPasswordHash", await error, StringComparison.Ordinal);
    }
}
