using System.Net;
using System.Text.Json;

namespace Tessera.Demo.Tests;

/// <summary>The demo answers a session that would outgrow Tessera:MaxDataBytes with 413, and keeps what it had.</summary>
public sealed class DemoDataLimitTests
{
    [Fact]
    public async Task ACartThatWouldOutgrowTheSessionLimitIs413AndKeepsItsItems()
    {
        await using var server = await DemoServer.StartAsync("memory", extra: ["--Tessera:MaxDataBytes=1024"]);
        using var client = server.CreateClient();
        var item = new string('x', 100);
        var added = 0;
        HttpStatusCode status;
        while (true)
        {
            using var response = await client.PostJsonAsync("/cart", new { item });
            status = response.StatusCode;
            if (status != HttpStatusCode.OK || added > 20)
            {
                Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
                using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                Assert.Equal("session_data_too_large", problem.RootElement.GetProperty("reason").GetString());
                break;
            }
            added++;
        }

        // About 1 KiB of 100-character items fits nine of them; the tenth is refused and nothing of it is stored.
        Assert.InRange(added, 8, 10);
        var cart = await client.JsonAsync(HttpMethod.Get, "/cart");
        Assert.Equal(added, cart.GetProperty("items").GetArrayLength());
    }
}
