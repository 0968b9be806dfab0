using Bunit;
using OpsConsole.Components.Shared;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Components;

public sealed class ObjectIdTests : ConsoleBunitContext
{
    [Fact]
    public void Uuidv7_ids_made_a_millisecond_apart_show_different_parts()
    {
        var at = DateTimeOffset.UtcNow;
        var first = Guid.CreateVersion7(at).ToString();
        var second = Guid.CreateVersion7(at.AddMilliseconds(1)).ToString();
        Assert.Equal(first[..8], second[..8]);

        var shownFirst = IdDisplay.Distinguishing(first);
        var shownSecond = IdDisplay.Distinguishing(second);

        Assert.NotEqual(shownFirst, shownSecond);
        Assert.Equal("…" + first[^8..], shownFirst);
    }

    [Fact]
    public void Random_uuids_show_their_start_and_short_ids_show_whole()
    {
        var random = Guid.NewGuid().ToString();

        Assert.Equal(random[..8] + "…", IdDisplay.Distinguishing(random));
        Assert.Equal("4711", IdDisplay.Distinguishing("4711"));
        Assert.Equal("pi_3MtwBwLkdIwHu7ix28a3tqPa", IdDisplay.Distinguishing("pi_3MtwBwLkdIwHu7ix28a3tqPa"));
        Assert.Equal("sha_…89abcdef", IdDisplay.Distinguishing("sha_0123456789abcdef0123456789abcdef0123456789abcdef"));
    }

    [Fact]
    public async Task The_whole_id_is_in_the_title_and_the_copy_button_copies_it()
    {
        var id = Guid.CreateVersion7().ToString();
        var module = JSInterop.SetupModule("./js/copy-download.js");
        module.SetupVoid("copyText", id).SetVoidResult();

        var cut = Render<ObjectId>(p => p.Add(o => o.Value, id));

        Assert.Equal(id, cut.Find("[data-testid=object-id]").GetAttribute("title"));
        Assert.Equal("…" + id[^8..], cut.Find("[data-testid=object-id-text]").TextContent);
        Assert.Equal($"Copy {id}", cut.Find("[data-testid=object-id-copy]").GetAttribute("aria-label"));

        await cut.FindAndClickAsync("[data-testid=object-id-copy]");

        await cut.WaitForAssertionAsync(() => Assert.Equal("true", cut.Find("[data-testid=object-id-copy]").GetAttribute("data-copied")), TimeSpan.FromSeconds(30));
        Assert.Single(module.Invocations, i => i.Identifier == "copyText" && (string?)i.Arguments[0] == id);
    }
}
